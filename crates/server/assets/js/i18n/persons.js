// Messages of the app's "persons" area, in English and Arabic (see ../i18n.js).
export default {
  en: {
    "persons.title": "Persons",
    "persons.new": "New person",
    "persons.new_org": "New organisation or unit",
    "persons.none": "No persons recorded in your cases.",
    "persons.col.names": "Names",
    "persons.col.case": "Case",
    "persons.col.status": "Status",
    "persons.col.sex": "Sex",
    "persons.col.born": "Born",
  },
  ar: {
    "persons.title": "الأشخاص",
    "persons.new": "شخص جديد",
    "persons.new_org": "جهة أو وحدة جديدة",
    "persons.none": "لم يُسجَّل أشخاص في قضاياك.",
    "persons.col.names": "الأسماء",
    "persons.col.case": "القضية",
    "persons.col.status": "الحالة",
    "persons.col.sex": "الجنس",
    "persons.col.born": "تاريخ الولادة",
  },
};
