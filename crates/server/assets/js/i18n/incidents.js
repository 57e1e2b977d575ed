// Messages of the app's "incidents" area, in English and Arabic (see ../i18n.js).
export default {
  en: {
    "incidents.title": "Incidents",
    "incidents.title_case": "Incidents of {case}",
    "incidents.new": "New incident",
    "incidents.timeline": "Timeline",
    "incidents.map": "Map",
    "incidents.none": "No incidents recorded in your cases.",
    "incidents.col.incident": "Incident",
    "incidents.col.case": "Case",
    "incidents.col.date": "Date",
    "incidents.col.places": "Places",
    "incidents.col.status": "Status",
  },
  ar: {
    "incidents.title": "الحوادث",
    "incidents.title_case": "حوادث القضية {case}",
    "incidents.new": "حادثة جديدة",
    "incidents.timeline": "التسلسل الزمني",
    "incidents.map": "الخريطة",
    "incidents.none": "لم تُسجَّل حوادث في قضاياك.",
    "incidents.col.incident": "الحادثة",
    "incidents.col.case": "القضية",
    "incidents.col.date": "التاريخ",
    "incidents.col.places": "الأماكن",
    "incidents.col.status": "الحالة",
  },
};
