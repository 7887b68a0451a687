// TypeScript types for a gitsync plugin written in JavaScript or TypeScript: the `plugin-policy`
// world of policy.wit (gitsync:policy@0.1.0) as componentize-js and jco present it to the guest.
// Records are objects with camelCase fields, `option<T>` is `T | undefined`, enums are their
// kebab-case names, variants are `{ tag, val }`, and a `result` error is thrown.
//
// In a JavaScript plugin:
//   // @ts-check
//   /** @type {import("./wit/policy").Plugin} */
//   export const plugin = { metadata() {...}, validateSettings(json) {...}, check(context) {...} };
// `gitsync policy wit --out wit` writes this file next to policy.wit.

/** How bad a finding is. `error` fails `gitsync validate` (exit 1); the others do not. */
export type Severity = "error" | "warning" | "note";

/** A range in a file. Lines and columns are 1-based; columns count characters. The end is exclusive. */
export interface Span {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/** One finding. */
export interface Diagnostic {
  /** One of the codes the plugin's metadata declares (never `GS…`: those are gitsync's). */
  code: string;
  severity: Severity;
  message: string;
  /** A file of the checked repository, `/`-separated and relative to its root. */
  path: string;
  span: Span;
  label: string | undefined;
  help: string | undefined;
  /** The workspace the finding is about, when it is about one. */
  workspace: string | undefined;
}

export interface SourceFile {
  path: string;
  contents: Uint8Array;
}

/** A string value of the file and where it sits. */
export interface Text {
  value: string;
  span: Span;
}

export type ModelKind = "model" | "parent-model" | "related-model" | "event-model";
export type QueryType = "raw-sql" | "table" | "dbt-model";

export interface Model {
  kind: ModelKind;
  name: Text | undefined;
  source: Text | undefined;
  queryType: QueryType | undefined;
  rawSql: Text | undefined;
  tableName: Text | undefined;
  dbtModel: Text | undefined;
  isSchema: boolean | undefined;
  primaryKey: Text | undefined;
  primaryLabel: Text | undefined;
  secondaryLabel: Text | undefined;
  eventTimestampColumn: Text | undefined;
}

export interface Sync {
  model: Text | undefined;
  destination: Text | undefined;
  /** The `config` mapping as JSON text (`{}` when missing). Its places are in `Resource.spans`. */
  configJson: string;
  /** The `schedule` as JSON text (`null` when missing). */
  scheduleJson: string;
  schedulePaused: boolean | undefined;
}

export interface RelationshipEnd {
  relationshipName: Text | undefined;
  slug: Text | undefined;
  mergeColumns: boolean | undefined;
}

export interface ColumnMapping {
  fromColumn: Text;
  toColumn: Text;
}

export interface DirectRelationship {
  from: RelationshipEnd;
  to: RelationshipEnd;
  cardinality: Text | undefined;
  mapping: Array<ColumnMapping>;
}

export interface ThroughRelationship {
  name: Text | undefined;
  fromSlug: Text | undefined;
  toSlug: Text | undefined;
  through: Array<Text>;
}

export type Relationship =
  | { tag: "direct"; val: DirectRelationship }
  | { tag: "through"; val: ThroughRelationship };

export type EventAction = "allow-event" | "block-event" | "omit-fields";

/** A JSON pointer (`/config/mode`, `/columns/0`) and where its value sits in the file. */
export interface PointerSpan {
  pointer: string;
  span: Span;
}

export interface Contract {
  name: Text | undefined;
  description: string | undefined;
  onUndeclaredSchema: EventAction;
}

export interface Event {
  /** The contract slug: the folder the file is in. */
  contract: string;
  eventType: Text | undefined;
  name: Text | undefined;
  version: Text;
  onSchemaViolation: EventAction;
  onUndeclaredFields: EventAction;
  includeBuiltInContext: boolean;
  /** The event's JSON Schema as JSON text. */
  schemaJson: string | undefined;
  /** Where each part of the schema sits, by JSON pointer into the schema. */
  schemaSpans: Array<PointerSpan>;
  schemaSpan: Span;
}

export interface ManifestEntry {
  id: Text;
  name: string | undefined;
  /** The endpoint's type: `salesforce`, `snowflake`, … */
  kind: string | undefined;
}

export interface Manifest {
  workspace: string;
  sources: Array<ManifestEntry>;
  destinations: Array<ManifestEntry>;
  hasReadOnlyHeader: boolean;
}

export interface AliasEntry {
  alias: Text;
  target: Text;
}

export interface AliasMap {
  workspace: string;
  sources: Array<AliasEntry>;
  destinations: Array<AliasEntry>;
}

export type ResourceBody =
  | { tag: "model"; val: Model }
  | { tag: "sync"; val: Sync }
  | { tag: "relationship"; val: Relationship }
  | { tag: "contract"; val: Contract }
  | { tag: "event"; val: Event }
  | { tag: "manifest"; val: Manifest }
  | { tag: "aliases"; val: AliasMap };

/** How a model's `source` or a sync's `destination` resolved in one workspace. */
export interface ResolvedReference {
  /** The file holding the reference. */
  path: string;
  /** `source` or `destination`. */
  field: string;
  /** What the file says: an id or an alias. */
  value: string;
  /** The id it resolves to; undefined when it does not resolve. */
  id: string | undefined;
}

/** A typed resource read from one file. `slug` is the file stem (for events: `<contract>/<stem>`). */
export interface Resource {
  path: string;
  slug: string;
  body: ResourceBody;
  /**
   * Where every value of the file sits, by JSON pointer, in document order: `` (the whole document),
   * `/schedulePaused`, `/config/mode`, `/columns/0`. Keys holding `/` or `~` are written `~1`, `~0`.
   */
  spans: Array<PointerSpan>;
}

/** A code the plugin can emit (use a prefix of your own, e.g. `ACME001`). */
export interface CodeInfo {
  code: string;
  severity: Severity;
  summary: string;
}

export interface PluginMetadata {
  name: string;
  version: string;
  description: string;
  codes: Array<CodeInfo>;
  /** The page documenting the plugin's codes (`https://…`): SARIF reports link each rule there. */
  helpUri?: string | undefined;
}

/** One connected workspace and how every source and destination reference resolved in it. */
export interface Workspace {
  id: string;
  references: Array<ResolvedReference>;
}

export interface Context {
  resources: Array<Resource>;
  workspaces: Array<Workspace>;
  /** Files the pull request changes (under `gitsync check`); empty under `validate`. */
  changedFiles: Array<string>;
  /** The plugin's settings from .gitsync/config.yaml, as JSON (`{}` when none). */
  settingsJson: string;
}

/** What a plugin module exports as `plugin`. */
export interface Plugin {
  metadata(): PluginMetadata;
  /** Called once before any check; throw a string to stop the run with that message. */
  validateSettings(settingsJson: string): void;
  check(context: Context): Array<Diagnostic>;
}
