// Messages of the app's "upload" area, in English and Arabic (see ../i18n.js).
export default {
  en: {
  },
  ar: {
  },
};
