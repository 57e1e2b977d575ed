// Messages of the app's "settings" area, in English and Arabic (see ../i18n.js).
export default {
  en: {
    "settings.title": "Settings",
    "settings.language": "Language",
    "settings.language_hint": "The language of the interface, for you on every device. Names and other data keep their own script and direction.",
    "settings.safe_review": "Safe review",
    "settings.blur": "Show review images blurred first",
    "settings.greyscale": "Show review images in greyscale before clear",
    "settings.muted": "Start videos muted",
    "settings.autoplay": "Play videos as soon as they are loaded",
    "settings.save": "Save",
    "settings.saved": "Saved.",
    "settings.not_saved": "Not saved: {message}",
  },
  ar: {
    "settings.title": "الإعدادات",
    "settings.language": "اللغة",
    "settings.language_hint": "لغة الواجهة، لك على كل جهاز. تبقى الأسماء وسائر البيانات بكتابتها واتجاهها الأصليين.",
    "settings.safe_review": "المراجعة الآمنة",
    "settings.blur": "عرض صور المراجعة مموّهة أولاً",
    "settings.greyscale": "عرض صور المراجعة بالتدرّج الرمادي قبل عرضها واضحة",
    "settings.muted": "بدء مقاطع الفيديو بلا صوت",
    "settings.autoplay": "تشغيل مقاطع الفيديو فور تحميلها",
    "settings.save": "حفظ",
    "settings.saved": "تم الحفظ.",
    "settings.not_saved": "لم يُحفظ: {message}",
  },
};
