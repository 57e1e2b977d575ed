// Messages of the app's "security" area, in English and Arabic (see ../i18n.js).
export default {
  en: {
  },
  ar: {
  },
};
