/**
 * Binding: one typed object filled from the request's route parameters,
 * query, headers, cookies and body, checked against a TypeBox schema.
 *
 *   const Search = Type.Object({
 *     id: t.param(Type.Integer()),
 *     page: t.query(Type.Integer({ minimum: 1, default: 1 })),
 *     token: t.header("x-token", Type.String()),
 *     name: Type.String(),                  // no helper: from the body
 *   });
 *   const input = await ctx.bind(Search);    // Static<typeof Search>
 *
 * Each schema is compiled once (TypeCompiler, cached by object identity).
 * docs/binding.md gives the rules: sources, coercion, the unknown-field
 * policy and the error body.
 */
import { Busboy } from "@fastify/busboy";
import { Kind, type Static, type TObject, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, ValueErrorType, type TypeCheck } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import sjson from "secure-json-parse";
import { ErrorCodes, FaradError, HttpError } from "../common/errors.js";
import type { RequestContext } from "./context.js";

/** Error codes of binding (see docs/binding.md); the values are ErrorCodes'. */
export const BindErrorCodes = Object.freeze({
  /** The request did not match the schema: a 400 listing each field. */
  BIND: ErrorCodes.BIND,
  /** The body's Content-Type is not one the schema can read: a 415. */
  UNSUPPORTED_MEDIA_TYPE: ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
  /** The schema given to bind() cannot be used (thrown to the developer, not sent). */
  BIND_SCHEMA: ErrorCodes.BIND_SCHEMA,
});

/**
 * Where a field comes from. "body" reads a JSON, urlencoded or multipart
 * body; "form" reads only the two form encodings.
 */
export type BindSource = "param" | "query" | "header" | "cookie" | "form" | "body";

/** What to do with body fields the schema does not declare. Default "strip". */
export type UnknownFieldPolicy = "strip" | "reject" | "allow";

export interface BindOptions {
  /**
   * Body fields the schema does not declare: "strip" drops them (also inside
   * nested objects without `additionalProperties`), "reject" fails with a 400,
   * "allow" keeps them. Default: "reject" if the schema has
   * `additionalProperties: false`, else "strip".
   */
  unknown?: UnknownFieldPolicy;
}

export interface BindFieldError {
  /** The name in its source (a header name, a query key), then a dotted path inside a body value. */
  field: string;
  source: BindSource;
  message: string;
}

/** The JSON body a failed bind answers with. */
export interface BindErrorBody {
  error: string;
  message: string;
  fields: BindFieldError[];
}

/**
 * A request that could not be bound: 400 (fields failed the schema) or 415
 * (a body in a media type the schema cannot read). The response body is
 * `err.body` as JSON.
 */
export class BindError extends HttpError {
  readonly fields: BindFieldError[];
  /** HttpError's body, typed: the server sends it as JSON. */
  declare readonly body: BindErrorBody;
  constructor(status: 400 | 415, code: string, message: string, fields: BindFieldError[]) {
    super(status, message, { code, body: { error: code, message, fields } satisfies BindErrorBody });
    this.name = "BindError";
    this.fields = fields;
  }
}

export type BindResult<T> = { ok: true; value: T } | { ok: false; error: BindError; errors: BindFieldError[] };

// ------------------------------------------------------------ the helpers

const kSource = Symbol.for("farad.bind.source");

interface SourceMark {
  source: BindSource;
  name: string | undefined;
}

/** Marks a property schema with where its value comes from; `name` defaults to the property name. */
export interface SourceHelper {
  <T extends TSchema>(schema: T): T;
  <T extends TSchema>(name: string, schema: T): T;
}

function helper(source: BindSource): SourceHelper {
  return (<T extends TSchema>(a: string | T, b?: T): T => {
    const named = typeof a === "string";
    const schema = (named ? b : a) as T;
    if (typeof schema !== "object" || schema === null) {
      throw new FaradError(BindErrorCodes.BIND_SCHEMA, `t.${source}(): expected a TypeBox schema`);
    }
    if (named && a.length === 0) throw new FaradError(BindErrorCodes.BIND_SCHEMA, `t.${source}(): the name must not be empty`);
    // A copy: the caller's schema object may be shared by other schemas.
    const mark: SourceMark = { source, name: named ? a : undefined };
    return { ...schema, [kSource]: mark };
  }) as SourceHelper;
}

/** Source helpers for bind() schemas. A property without one comes from the body. */
export const t = Object.freeze({
  /** A route parameter (`/user/:id`). */
  param: helper("param"),
  /** A query parameter; an array schema takes every repeated key. */
  query: helper("query"),
  /** A request header, by case-insensitive name. */
  header: helper("header"),
  /** A request cookie. */
  cookie: helper("cookie"),
  /** A field of an urlencoded or multipart/form-data body. */
  form: helper("form"),
  /** A field of the body: JSON, urlencoded or multipart/form-data. The default. */
  body: helper("body"),
});

// ------------------------------------------------------------ compiling

type Coerce = (s: string) => unknown;

interface Field {
  prop: string;
  key: string;
  source: BindSource;
  /** Strings to the declared type; for an array schema, applied to each item. */
  coerce: Coerce;
  array: boolean;
  hasDefault: boolean;
  default: unknown;
  /** The schema has defaults below its top level (filled by Value.Default). */
  nestedDefaults: boolean;
  /** The schema has objects whose undeclared properties "strip" removes. */
  objects: boolean;
  schema: TSchema;
}

interface Plan {
  fields: Field[];
  byProp: Map<string, Field>;
  check: TypeCheck<TObject>;
  /** Keys read from the body (body and form sources). */
  bodyKeys: Set<string>;
  json: boolean;
  form: boolean;
  query: boolean;
  policy: UnknownFieldPolicy;
}

const plans = new WeakMap<object, Plan>();

function planOf(schema: TObject): Plan {
  let plan = plans.get(schema);
  if (plan === undefined) {
    plan = compile(schema);
    plans.set(schema, plan);
  }
  return plan;
}

function kindOf(s: TSchema): string {
  const k = (s as unknown as Record<symbol, unknown>)[Kind];
  if (typeof k === "string") return k;
  const type = (s as { type?: unknown }).type;
  return typeof type === "string" ? type.charAt(0).toUpperCase() + type.slice(1) : "";
}

function compile(schema: TObject): Plan {
  if (typeof schema !== "object" || schema === null || kindOf(schema) !== "Object" || typeof schema.properties !== "object") {
    throw new FaradError(BindErrorCodes.BIND_SCHEMA, "bind(): the schema must be a TypeBox object schema (Type.Object({...}))");
  }
  const fields: Field[] = [];
  const byProp = new Map<string, Field>();
  const bodyKeys = new Set<string>();
  const seen = new Map<string, string>();
  for (const [prop, s] of Object.entries(schema.properties)) {
    const mark = (s as unknown as Record<symbol, SourceMark | undefined>)[kSource];
    const source = mark?.source ?? "body";
    const key = mark?.name ?? prop;
    const where = `${source}:${source === "header" ? key.toLowerCase() : key}`;
    const other = seen.get(where);
    if (other !== undefined) {
      throw new FaradError(BindErrorCodes.BIND_SCHEMA, `bind(): properties ${other} and ${prop} both read ${source} field ${JSON.stringify(key)}`);
    }
    seen.set(where, prop);
    const array = kindOf(s) === "Array";
    const itemSchema = array ? ((s as { items?: TSchema }).items ?? ({} as TSchema)) : s;
    const f: Field = {
      prop,
      key,
      source,
      coerce: coercer(itemSchema),
      array,
      hasDefault: "default" in s,
      default: (s as { default?: unknown }).default,
      nestedDefaults: hasBelow(s, (x) => "default" in x),
      objects: hasBelow(s, (x) => kindOf(x) === "Object") || kindOf(s) === "Object",
      schema: s,
    };
    fields.push(f);
    byProp.set(prop, f);
    if (source === "body" || source === "form") bodyKeys.add(key);
  }
  return {
    fields,
    byProp,
    check: TypeCompiler.Compile(schema),
    bodyKeys,
    json: fields.some((f) => f.source === "body"),
    form: fields.some((f) => f.source === "body" || f.source === "form"),
    query: fields.some((f) => f.source === "query"),
    policy: (schema as { additionalProperties?: unknown }).additionalProperties === false ? "reject" : "strip",
  };
}

/** True if some schema strictly below `s` satisfies `test`. */
function hasBelow(s: TSchema, test: (x: TSchema) => boolean): boolean {
  const kids: TSchema[] = [];
  const o = s as { properties?: Record<string, TSchema>; items?: TSchema | TSchema[]; anyOf?: TSchema[]; allOf?: TSchema[] };
  if (o.properties) kids.push(...Object.values(o.properties));
  if (Array.isArray(o.items)) kids.push(...o.items);
  else if (o.items) kids.push(o.items);
  if (o.anyOf) kids.push(...o.anyOf);
  if (o.allOf) kids.push(...o.allOf);
  return kids.some((k) => test(k) || hasBelow(k, test));
}

// ------------------------------------------------------------ coercion

// A decimal number as JSON would write it (plus a leading "+"): no hex, no
// "Infinity", no whitespace, no empty string (which Number() would make 0).
const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const asIs: Coerce = (s) => s;
const toNumber: Coerce = (s) => (NUMERIC.test(s) ? Number(s) : s);
const toBoolean: Coerce = (s) => (s === "true" || s === "1" ? true : s === "false" || s === "0" ? false : s);
const toNull: Coerce = (s) => (s === "" || s === "null" ? null : s);

/**
 * How a string from the URL, a header, a cookie or a form becomes the
 * declared type. A string that does not convert is left as it is, and the
 * schema check then reports the type it expected.
 */
function coercer(s: TSchema): Coerce {
  switch (kindOf(s)) {
    case "Integer":
    case "Number":
      return toNumber;
    case "Boolean":
      return toBoolean;
    case "Null":
      return toNull;
    case "Literal": {
      const c = (s as { const?: unknown }).const;
      return typeof c === "number" ? toNumber : typeof c === "boolean" ? toBoolean : asIs;
    }
    case "Union": {
      // The first member, in declared order, that takes the string decides.
      const members = ((s as { anyOf?: TSchema[] }).anyOf ?? []).map((m) => [kindOf(m), coercer(m)] as const);
      return (str) => {
        for (const [kind, c] of members) {
          if (kind === "String") return str;
          const v = c(str);
          if (v !== str) return v;
        }
        return str;
      };
    }
    default:
      return asIs;
  }
}

function coerceValues(f: Field, values: string[]): unknown {
  if (f.array) return values.map(f.coerce);
  return f.coerce(values[0]!);
}

// ------------------------------------------------------------ the body

type Body = { json: Record<string, unknown> } | { form: Map<string, string[]> } | null;

const JSON_TYPES = "application/json";
const FORM_TYPES = "application/x-www-form-urlencoded, multipart/form-data";

function unsupported(message: string): BindError {
  return new BindError(415, BindErrorCodes.UNSUPPORTED_MEDIA_TYPE, message, []);
}

function badBody(source: BindSource, message: string): BindError {
  return new BindError(400, BindErrorCodes.BIND, `request binding failed: ${message}`, [{ field: "", source, message }]);
}

async function readBody(ctx: RequestContext, plan: Plan): Promise<Body> {
  const accepted = plan.json ? `${JSON_TYPES}, ${FORM_TYPES}` : FORM_TYPES;
  const source: BindSource = plan.json ? "body" : "form";
  const ct = ctx.header("content-type");
  // Media type checked before the body is read: no point reading what cannot be used.
  let type = "";
  if (ct !== undefined) {
    const semi = ct.indexOf(";");
    type = (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase();
    const isJson = type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
    const ok = (isJson && plan.json) || type === "application/x-www-form-urlencoded" || type === "multipart/form-data";
    if (!ok) throw unsupported(`unsupported Content-Type ${JSON.stringify(type)}: send ${accepted}`);
    if (isJson) {
      // RFC 8259 §8.1: JSON exchanged between systems is UTF-8.
      const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(ct)?.[1]?.toLowerCase();
      if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
        throw unsupported(`unsupported charset ${JSON.stringify(charset)}: JSON must be UTF-8`);
      }
      type = "json";
    }
  }
  // Larger than bodyLimit: ctx.body() rejects with the engine's 413.
  const bytes = await ctx.body();
  // An empty body is no body, whatever its Content-Type says: its fields are missing.
  if (bytes.length === 0) return null;
  if (ct === undefined) throw unsupported(`a body without Content-Type: send ${accepted}`);
  if (type === "json") {
    let v: unknown;
    try {
      // secure-json-parse: a "__proto__" key or "constructor.prototype" is an error, not a prototype change.
      v = sjson.parse(bytes.toString("utf8"), null, { protoAction: "error", constructorAction: "error" });
    } catch (e) {
      throw badBody("body", `invalid JSON: ${(e as Error).message}`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw badBody("body", "expected a JSON object");
    return { json: v as Record<string, unknown> };
  }
  if (type === "application/x-www-form-urlencoded") {
    const form = new Map<string, string[]>();
    for (const [k, val] of new URLSearchParams(bytes.toString("utf8"))) push(form, k, val);
    return { form };
  }
  return { form: await multipartFields(ct, bytes, source) };
}

function push(m: Map<string, string[]>, k: string, v: string): void {
  const had = m.get(k);
  if (had === undefined) m.set(k, [v]);
  else had.push(v);
}

/**
 * The non-file fields of a multipart/form-data body. File parts are not
 * listened for, so busboy discards their bytes as it parses (files are the
 * upload API's job, not binding's).
 */
function multipartFields(contentType: string, bytes: Buffer, source: BindSource): Promise<Map<string, string[]>> {
  return new Promise((resolve, reject) => {
    const form = new Map<string, string[]>();
    let bb: InstanceType<typeof Busboy>;
    try {
      // The body is already within bodyLimit, so no field needs a smaller cap
      // (busboy's default would cut values at 1 MB without an error).
      bb = new Busboy({ headers: { "content-type": contentType }, limits: { fieldSize: bytes.length, fieldNameSize: 1024 } });
    } catch (e) {
      reject(badBody(source, `invalid multipart body: ${(e as Error).message}`));
      return;
    }
    bb.on("field", (name: string, value: string) => push(form, name, value));
    bb.on("error", (e: Error) => reject(badBody(source, `invalid multipart body: ${e.message}`)));
    bb.on("finish", () => resolve(form));
    bb.end(bytes);
  });
}

// ------------------------------------------------------------ binding

function queryOf(ctx: RequestContext): Map<string, string[]> {
  const url = ctx.url;
  const q = url.indexOf("?");
  const m = new Map<string, string[]>();
  if (q < 0) return m;
  for (const [k, v] of new URLSearchParams(url.slice(q + 1))) push(m, k, v);
  return m;
}

/** Undeclared properties of objects below `schema` removed in place ("strip"). */
function strip(schema: TSchema, value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  const kind = kindOf(schema);
  if (kind === "Array") {
    const items = (schema as { items?: TSchema }).items;
    if (items !== undefined && Array.isArray(value)) for (const v of value) strip(items, v);
    return;
  }
  if (kind !== "Object" || Array.isArray(value)) return;
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  // `additionalProperties: true` or a schema keeps the extra keys; unset or false drops them.
  const extra = (schema as { additionalProperties?: unknown }).additionalProperties;
  const keep = extra !== undefined && extra !== false;
  for (const k of Object.keys(value)) {
    const p = props[k];
    if (p !== undefined) strip(p, (value as Record<string, unknown>)[k]);
    else if (!keep) delete (value as Record<string, unknown>)[k];
  }
}

function pointerSegments(path: string): string[] {
  if (path === "") return [];
  return path.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function messageOf(type: ValueErrorType, message: string): string {
  return type === ValueErrorType.ObjectRequiredProperty ? "required" : message;
}

/** Binds or returns the failures; a 413 or a body read error is thrown as is. */
export async function tryBindRequest<T extends TObject>(ctx: RequestContext, schema: T, options?: BindOptions): Promise<BindResult<Static<T>>> {
  const plan = planOf(schema);
  const policy = options?.unknown ?? plan.policy;
  let body: Body = null;
  if (plan.form) {
    try {
      body = await readBody(ctx, plan);
    } catch (e) {
      if (e instanceof BindError) return { ok: false, error: e, errors: e.fields };
      throw e;
    }
  }
  const query = plan.query ? queryOf(ctx) : null;
  const out: Record<string, unknown> = {};
  const errors: BindFieldError[] = [];

  for (const f of plan.fields) {
    let v: unknown;
    switch (f.source) {
      case "param": {
        const s = ctx.param(f.key);
        if (s !== undefined) v = coerceValues(f, [s]);
        break;
      }
      case "query": {
        const vs = query!.get(f.key);
        if (vs !== undefined) v = coerceValues(f, vs);
        break;
      }
      case "header": {
        const vs = ctx.headerValues(f.key);
        if (vs.length > 0) v = coerceValues(f, vs);
        break;
      }
      case "cookie": {
        const s = ctx.cookie(f.key);
        if (s !== undefined) v = coerceValues(f, [s]);
        break;
      }
      default: {
        if (body === null) break;
        if ("json" in body) {
          // JSON carries its own types: nothing is coerced. A "form" field is not read from JSON.
          if (f.source === "body" && Object.hasOwn(body.json, f.key)) v = body.json[f.key];
        } else {
          const vs = body.form.get(f.key);
          if (vs !== undefined) v = coerceValues(f, vs);
        }
      }
    }
    if (v === undefined && f.hasDefault) v = typeof f.default === "object" && f.default !== null ? structuredClone(f.default) : f.default;
    if (v !== undefined) {
      if (f.nestedDefaults) v = Value.Default(f.schema, v);
      if (policy === "strip" && f.objects && (f.source === "body" || f.source === "form")) strip(f.schema, v);
      out[f.prop] = v;
    }
  }

  if (body !== null && policy !== "strip") {
    const source: BindSource = "json" in body ? "body" : "form";
    const keys = "json" in body ? Object.keys(body.json) : [...body.form.keys()];
    for (const k of keys) {
      if (plan.bodyKeys.has(k)) continue;
      if (policy === "reject") errors.push({ field: k, source, message: "unknown field" });
      else if (!plan.byProp.has(k)) {
        const v = "json" in body ? body.json[k] : body.form.get(k)![0];
        // defineProperty: a key named "__proto__" stays a plain property.
        Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
    }
  }

  if (errors.length === 0 && plan.check.Check(out)) return { ok: true, value: out as Static<T> };

  // Schema errors in the order the schema declares its fields, then unknown fields.
  const found: [number, BindFieldError][] = [];
  const seen = new Set<string>();
  for (const e of plan.check.Errors(out)) {
    const [prop, ...rest] = pointerSegments(e.path);
    const f = prop === undefined ? undefined : plan.byProp.get(prop);
    const field = f === undefined ? (prop ?? "") : [f.key, ...rest].join(".");
    const source: BindSource = f?.source ?? "body";
    const id = `${source}\0${field}`;
    if (seen.has(id)) continue; // the first error of a field says enough
    seen.add(id);
    found.push([f === undefined ? plan.fields.length : plan.fields.indexOf(f), { field, source, message: messageOf(e.type, e.message) }]);
    if (found.length >= 100) break;
  }
  found.sort((a, b) => a[0] - b[0]);
  errors.unshift(...found.map((x) => x[1]));
  const summary = errors.map((e) => `${e.source} ${e.field === "" ? "(whole)" : e.field}: ${e.message}`).join("; ");
  const error = new BindError(400, BindErrorCodes.BIND, `request binding failed: ${summary}`, errors);
  return { ok: false, error, errors };
}

export async function bindRequest<T extends TObject>(ctx: RequestContext, schema: T, options?: BindOptions): Promise<Static<T>> {
  const r = await tryBindRequest(ctx, schema, options);
  if (r.ok) return r.value;
  throw r.error;
}
