// @ts-check
// Example gitsync plugin in JavaScript: every event contract has a description, and every track
// event's schema describes its properties (the `description` keyword). Settings:
// {"min_length": 10} — the shortest description accepted (default 10).

/** @typedef {import("./wit/policy").Span} Span */
/** @typedef {import("./wit/policy").Diagnostic} Diagnostic */

/** @param {string} json */
function settingsOf(json) {
  const s = JSON.parse(json || "{}");
  if (typeof s !== "object" || s === null || Array.isArray(s)) throw "settings must be a mapping";
  const min = s.min_length ?? 10;
  if (!Number.isInteger(min) || min < 0) throw "`min_length` must be a whole number";
  return { min };
}

/** @type {Span} */
const start = { line: 1, column: 1, endLine: 1, endColumn: 1 };

/** @type {import("./wit/policy").Plugin} */
export const plugin = {
  metadata() {
    return {
      name: "js-description",
      version: "0.1.0",
      description: "Event contracts carry a description (a plugin written in JavaScript)",
      codes: [{ code: "DOC001", severity: "warning", summary: "event contract without a useful description" }],
    };
  },

  validateSettings(json) {
    settingsOf(json);
  },

  check(context) {
    const { min } = settingsOf(context.settingsJson);
    /** @type {Diagnostic[]} */
    const out = [];
    for (const r of context.resources) {
      if (r.body.tag !== "contract") continue;
      const contract = r.body.val;
      const text = contract.description ?? "";
      if (text.trim().length < min) {
        out.push({
          code: "DOC001",
          severity: "warning",
          message: text
            ? `contract \`${r.slug}\` has a description shorter than ${min} characters`
            : `contract \`${r.slug}\` has no description`,
          path: r.path,
          span: contract.name ? contract.name.span : start,
          label: undefined,
          help: "add `description:` saying which sources send these events and who owns them",
          workspace: undefined,
        });
      }
    }
    return out;
  },
};
