// Terms of evidence handling in plain words: a term shown on a page is its plain name, with
// its explanation on hover and keyboard focus (an <abbr> with a title, focusable), from the
// glossary catalogue (i18n/glossary.js). Unknown terms are shown as they are.
import { el, t } from "./core.js";
import { catalogue } from "./i18n.js";

/** Whether the glossary explains `term` (e.g. "vpdq", "event.access"). */
export function known(term) {
  return catalogue.en["g." + term] !== undefined;
}

/** `term` in plain words, explained on hover and focus; as it is when not in the glossary. */
export function term(term) {
  if (!known(term)) return el("span", { dir: "auto" }, term);
  const about = t("g." + term + ".about");
  const has = catalogue.en["g." + term + ".about"] !== undefined;
  return el("abbr", { title: has ? about : null, tabindex: has ? 0 : null, class: "term", "data-term": term },
    t("g." + term));
}
