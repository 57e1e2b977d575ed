// Messages of the app's "cases" area, in English and Arabic (see ../i18n.js): a case's
// item grid (pages/case.js).
export default {
  en: {
    "grid.title": "Case",
    "grid.type": "Type",
    "grid.type.all": "all",
    "grid.type.videos": "videos",
    "grid.type.images": "images",
    "grid.type.other": "other",
    "grid.find": "Find",
    "grid.find-placeholder": "file name, id or SHA-256",
    "grid.count": { one: "{n} of {total} items", other: "{n} of {total} items" },
    "grid.review-alt": "Review image, {variant}",
    "grid.no-review-image": "no review image yet",
  },
  ar: {
    "grid.title": "القضية",
    "grid.type": "النوع",
    "grid.type.all": "الكل",
    "grid.type.videos": "مقاطع الفيديو",
    "grid.type.images": "الصور",
    "grid.type.other": "غير ذلك",
    "grid.find": "بحث",
    "grid.find-placeholder": "اسم الملف أو المعرّف أو ⁨SHA-256⁩",
    "grid.count": {
      zero: "لا عناصر من {total}",
      one: "عنصر واحد من {total}",
      two: "عنصران من {total}",
      few: "{n} عناصر من {total}",
      many: "{n} عنصراً من {total}",
      other: "{n} عنصر من {total}",
    },
    "grid.review-alt": "صورة المراجعة، {variant}",
    "grid.no-review-image": "لا توجد صورة مراجعة بعد",
  },
};
