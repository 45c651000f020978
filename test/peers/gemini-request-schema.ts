/**
 * What the Gemini Developer API (v1beta `generateContent`) accepts, so the local peer can refuse
 * what Google would refuse, with the same 400 bodies.
 *
 * The field lists follow the v1beta REST reference (GenerateContentRequest, Content, Part, Blob,
 * GenerationConfig, ThinkingConfig, Schema) and what @google/genai 2.x actually sends (the
 * js-genai recordings in test/fixtures/gemini/js-genai-recordings). Google parses bodies as proto
 * JSON: lowerCamel and snake_case names are both accepted, a repeated field may be given one value,
 * 64-bit integers may be strings, and error paths are written in snake_case.
 *
 * Error texts come from real answers quoted in public issue threads:
 * - unknown field: `Invalid JSON payload received. Unknown name "x" at 'generation_config': Cannot
 *   find field.` with a google.rpc.BadRequest `fieldViolations` detail (google-gemini/gemini-cli#13972,
 *   Alishahryar1/free-claude-code#542, simonw/llm-gemini#49);
 * - wrong scalar or enum: `Invalid value at 'generation_config.response_schema.properties[4].value.any_of[1].type'
 *   (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), "null"` (simonw/llm-gemini#49);
 *   lower-case Schema types are refused this way (iBUHub/AIStudioToAPI#265);
 * - bad base64: `Invalid value at 'contents[0].parts[2].inline_data.data' (TYPE_BYTES), Base64 decoding
 *   failed for "…"` (danny-avila/LibreChat#6593);
 * - `* GenerateContentRequest.contents: contents is not specified` (vercel/ai#3775),
 *   `* GenerateContentRequest.contents[n].parts: contents.parts must not be empty` (vercel/ai#3775),
 *   `* GenerateContentRequest.contents[1].parts[0].data: required oneof field 'data' must have one
 *   initialized field` (genkit-ai/genkit#3816).
 * Checks whose exact wording was not found in any public answer say so where they are made; they
 * keep the real status (400 INVALID_ARGUMENT) and envelope.
 */

/** A google.rpc.Status error body, as Google sends it. */
export interface GoogleErrorBody {
  error: {
    code: number;
    message: string;
    status: string;
    details?: unknown[];
  };
}

type Scalar = 'string' | 'int32' | 'int64' | 'float' | 'double' | 'bool' | 'bytes';
type FieldSpec =
  | { kind: 'scalar'; type: Scalar }
  /** google.protobuf.Value / Struct: any JSON (tools, responseJsonSchema, …). */
  | { kind: 'value' }
  | { kind: 'enum'; name: string; values: readonly string[] }
  | { kind: 'message'; name: string; spec: () => MessageSpec }
  | { kind: 'map'; of: FieldSpec };
interface FieldDef {
  spec: FieldSpec;
  repeated?: boolean;
}
interface MessageSpec {
  fields: Record<string, FieldDef>;
  /** Members of the `data` oneof (Part). */
  oneof?: readonly string[];
}

const T = 'type.googleapis.com/google.ai.generativelanguage.v1beta.';
const s = (type: Scalar): FieldDef => ({ spec: { kind: 'scalar', type } });
const rs = (type: Scalar): FieldDef => ({ spec: { kind: 'scalar', type }, repeated: true });
const value: FieldDef = { spec: { kind: 'value' } };
const msg = (name: string, spec: () => MessageSpec, repeated = false): FieldDef => ({
  spec: { kind: 'message', name, spec },
  repeated,
});
const en = (name: string, values: readonly string[], repeated = false): FieldDef => ({
  spec: { kind: 'enum', name, values },
  repeated,
});

const SCHEMA_TYPES = [
  'TYPE_UNSPECIFIED',
  'STRING',
  'NUMBER',
  'INTEGER',
  'BOOLEAN',
  'ARRAY',
  'OBJECT',
  'NULL',
];

const blob = (): MessageSpec => ({ fields: { mimeType: s('string'), data: s('bytes') } });
const fileData = (): MessageSpec => ({ fields: { mimeType: s('string'), fileUri: s('string') } });
const part = (): MessageSpec => ({
  fields: {
    text: s('string'),
    inlineData: msg('Blob', blob),
    functionCall: value,
    functionResponse: value,
    fileData: msg('FileData', fileData),
    executableCode: value,
    codeExecutionResult: value,
    thought: s('bool'),
    thoughtSignature: s('bytes'),
    videoMetadata: value,
    partMetadata: value,
    mediaResolution: value,
  },
  oneof: [
    'text',
    'inlineData',
    'functionCall',
    'functionResponse',
    'fileData',
    'executableCode',
    'codeExecutionResult',
  ],
});
const content = (): MessageSpec => ({ fields: { parts: msg('Part', part, true), role: s('string') } });
const schema = (): MessageSpec => ({
  fields: {
    type: en('Type', SCHEMA_TYPES),
    format: s('string'),
    title: s('string'),
    description: s('string'),
    nullable: s('bool'),
    enum: rs('string'),
    maxItems: s('int64'),
    minItems: s('int64'),
    properties: { spec: { kind: 'map', of: { kind: 'message', name: 'Schema', spec: schema } } },
    required: rs('string'),
    minProperties: s('int64'),
    maxProperties: s('int64'),
    minLength: s('int64'),
    maxLength: s('int64'),
    pattern: s('string'),
    example: value,
    anyOf: msg('Schema', schema, true),
    propertyOrdering: rs('string'),
    default: value,
    items: msg('Schema', schema),
    minimum: s('double'),
    maximum: s('double'),
  },
});
const thinkingConfig = (): MessageSpec => ({
  fields: {
    includeThoughts: s('bool'),
    thinkingBudget: s('int32'),
    thinkingLevel: en('ThinkingLevel', ['THINKING_LEVEL_UNSPECIFIED', 'MINIMAL', 'LOW', 'MEDIUM', 'HIGH']),
  },
});
const generationConfig = (): MessageSpec => ({
  fields: {
    stopSequences: rs('string'),
    responseMimeType: s('string'),
    responseSchema: msg('Schema', schema),
    responseJsonSchema: value,
    responseModalities: en('Modality', ['MODALITY_UNSPECIFIED', 'TEXT', 'IMAGE', 'AUDIO'], true),
    candidateCount: s('int32'),
    maxOutputTokens: s('int32'),
    temperature: s('float'),
    topP: s('float'),
    topK: s('int32'),
    seed: s('int32'),
    presencePenalty: s('float'),
    frequencyPenalty: s('float'),
    responseLogprobs: s('bool'),
    logprobs: s('int32'),
    enableEnhancedCivicAnswers: s('bool'),
    speechConfig: value,
    thinkingConfig: msg('ThinkingConfig', thinkingConfig),
    imageConfig: value,
    mediaResolution: value,
  },
});
const safetySetting = (): MessageSpec => ({ fields: { category: s('string'), threshold: s('string') } });
const request = (): MessageSpec => ({
  fields: {
    model: s('string'),
    contents: msg('Content', content, true),
    tools: { ...value, repeated: true },
    toolConfig: value,
    safetySettings: msg('SafetySetting', safetySetting, true),
    systemInstruction: msg('Content', content),
    generationConfig: msg('GenerationConfig', generationConfig),
    cachedContent: s('string'),
  },
});

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (name: string) => name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** `Invalid JSON payload received. Unknown name …` with its BadRequest detail. */
function unknownName(name: string, path: string): GoogleErrorBody {
  const description = path
    ? `Invalid JSON payload received. Unknown name "${name}" at '${path}': Cannot find field.`
    : `Invalid JSON payload received. Unknown name "${name}": Cannot find field.`;
  return badRequest(description, path);
}

function badRequest(description: string, field: string): GoogleErrorBody {
  return {
    error: {
      code: 400,
      message: description,
      status: 'INVALID_ARGUMENT',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.BadRequest',
          fieldViolations: [field ? { field, description } : { description }],
        },
      ],
    },
  };
}

/** A validator failure (`* GenerateContentRequest.path: text`), as Google words them. */
export function invalidArgument(message: string): GoogleErrorBody {
  return { error: { code: 400, message, status: 'INVALID_ARGUMENT' } };
}

const invalidValue = (path: string, type: string, v: unknown) =>
  badRequest(`Invalid value at '${path}' (${type}), ${JSON.stringify(v)}`, path);

const join = (path: string, name: string) => (path ? `${path}.${name}` : name);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

function checkScalar(type: Scalar, v: unknown, path: string): GoogleErrorBody | undefined {
  const bad = () => invalidValue(path, `TYPE_${type.toUpperCase()}`, v);
  switch (type) {
    case 'string':
      return typeof v === 'string' ? undefined : bad();
    case 'bool':
      return typeof v === 'boolean' ? undefined : bad();
    case 'int32':
    case 'int64': {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) return bad();
      if (type === 'int32' && (n > 2 ** 31 - 1 || n < -(2 ** 31))) return bad();
      return undefined;
    }
    case 'float':
    case 'double': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      return typeof n === 'number' && !Number.isNaN(n) ? undefined : bad();
    }
    case 'bytes':
      if (typeof v === 'string' && (BASE64.test(v) || BASE64URL.test(v))) return undefined;
      return badRequest(
        `Invalid value at '${path}' (TYPE_BYTES), Base64 decoding failed for ${JSON.stringify(v)}`,
        path,
      );
  }
}

function checkField(def: FieldSpec, v: unknown, path: string): GoogleErrorBody | undefined {
  switch (def.kind) {
    case 'value':
      return undefined;
    case 'scalar':
      return checkScalar(def.type, v, path);
    case 'enum':
      return typeof v === 'string' && def.values.includes(v)
        ? undefined
        : invalidValue(path, T + def.name, v);
    case 'message':
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return invalidValue(path, T + def.name, v);
      return checkMessage(def.spec(), v as Record<string, unknown>, path);
    case 'map': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return invalidValue(path, 'map', v);
      let i = 0;
      for (const item of Object.values(v)) {
        const err = checkField(def.of, item, `${path}[${i}].value`);
        if (err) return err;
        i += 1;
      }
      return undefined;
    }
  }
}

function checkMessage(
  spec: MessageSpec,
  obj: Record<string, unknown>,
  path: string,
): GoogleErrorBody | undefined {
  const set: string[] = [];
  for (const [rawName, v] of Object.entries(obj)) {
    const name = camel(rawName);
    const def = Object.hasOwn(spec.fields, name) ? spec.fields[name] : undefined;
    if (!def) return unknownName(rawName, path);
    if (v === null) continue;
    if (spec.oneof?.includes(name)) {
      // Wording of protobuf's JSON parser for a second member of a oneof.
      if (set.length > 0)
        return badRequest(
          `Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '${name}'`,
          path,
        );
      set.push(name);
    }
    const fieldPath = join(path, snake(name));
    const items = def.repeated && Array.isArray(v) ? v : [v];
    for (const [i, item] of items.entries()) {
      const err = checkField(
        def.spec,
        item,
        def.repeated && Array.isArray(v) ? `${fieldPath}[${i}]` : fieldPath,
      );
      if (err) return err;
    }
  }
  return undefined;
}

/** Proto-JSON value of a field given in either spelling. */
function field(obj: unknown, name: string): unknown {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const o = obj as Record<string, unknown>;
  return o[name] ?? o[snake(name)];
}
const asList = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** MIME types of inline images Gemini reads (ai.google.dev "Image understanding": supported formats). */
export const GEMINI_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif'];
const MAGIC: Record<string, (b: Buffer) => boolean> = {
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/webp': (b) => b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP',
};

/** Response MIME types generateContent accepts (GenerationConfig.responseMimeType in the v1beta reference). */
export const RESPONSE_MIME_TYPES = [
  'text/plain',
  'application/json',
  'application/xml',
  'application/yaml',
  'text/x.enum',
];

const JSON_SCHEMA_TYPES = ['string', 'number', 'integer', 'boolean', 'array', 'object', 'null'];

/**
 * The JSON Schema subset structured output honours (ai.google.dev "Structured output": type,
 * properties, required, items, minItems/maxItems, minimum/maximum, enum, anyOf, …). Google's own
 * wording for these refusals was not found; the envelope is the real INVALID_ARGUMENT one.
 */
function checkJsonSchema(node: unknown, path: string): string | undefined {
  if (typeof node !== 'object' || node === null || Array.isArray(node))
    return `${path}: schema must be an object`;
  const n = node as Record<string, unknown>;
  const types = asList(n.type);
  for (const t of types)
    if (typeof t !== 'string' || !JSON_SCHEMA_TYPES.includes(t))
      return `${path}.type: unknown type ${JSON.stringify(t)}`;
  if (n.properties !== undefined) {
    if (typeof n.properties !== 'object' || n.properties === null)
      return `${path}.properties: must be an object`;
    for (const [k, sub] of Object.entries(n.properties)) {
      const err = checkJsonSchema(sub, `${path}.properties.${k}`);
      if (err) return err;
    }
  }
  if (n.required !== undefined) {
    if (!Array.isArray(n.required) || n.required.some((r) => typeof r !== 'string'))
      return `${path}.required: must be a list of names`;
    const props = (n.properties ?? {}) as Record<string, unknown>;
    const missing = n.required.find((r) => !Object.hasOwn(props, r as string));
    if (missing !== undefined) return `${path}.required: "${String(missing)}" is not a property`;
  }
  for (const [lo, hi] of [
    ['minItems', 'maxItems'],
    ['minimum', 'maximum'],
  ] as const) {
    for (const k of [lo, hi])
      if (n[k] !== undefined && (typeof n[k] !== 'number' || !Number.isFinite(n[k])))
        return `${path}.${k}: must be a number`;
    if (typeof n[lo] === 'number' && typeof n[hi] === 'number' && n[lo] > n[hi])
      return `${path}: ${lo} ${n[lo]} is greater than ${hi} ${n[hi]}`;
  }
  if (n.items !== undefined) {
    const err = checkJsonSchema(n.items, `${path}.items`);
    if (err) return err;
  }
  for (const k of ['anyOf', 'oneOf'] as const) {
    if (n[k] === undefined) continue;
    if (!Array.isArray(n[k])) return `${path}.${k}: must be a list`;
    for (const [i, sub] of (n[k] as unknown[]).entries()) {
      const err = checkJsonSchema(sub, `${path}.${k}[${i}]`);
      if (err) return err;
    }
  }
  return undefined;
}

/**
 * Checks a parsed generateContent body the way the API does. Returns the 400 body Google would
 * answer, or undefined when the request is acceptable.
 */
export function validateGenerateContentRequest(body: unknown): GoogleErrorBody | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return badRequest(`Invalid JSON payload received. Expected an object, got ${JSON.stringify(body)}.`, '');
  const parsed = checkMessage(request(), body as Record<string, unknown>, '');
  if (parsed) return parsed;

  const contents = asList(field(body, 'contents'));
  if (contents.length === 0)
    return invalidArgument('* GenerateContentRequest.contents: contents is not specified\n');
  const turns: [unknown, string][] = contents.map((c, i) => [c, `contents[${i}]`]);
  const system = field(body, 'systemInstruction');
  if (system !== undefined) turns.push([system, 'system_instruction']);
  for (const [c, at] of turns) {
    const role = field(c, 'role');
    // Gemini's answer to any other role; the system instruction's role is ignored.
    if (at !== 'system_instruction' && role !== undefined && role !== 'user' && role !== 'model')
      return invalidArgument('Please use a valid role: user, model.');
    const parts = asList(field(c, 'parts'));
    if (parts.length === 0)
      return invalidArgument(`* GenerateContentRequest.${at}.parts: contents.parts must not be empty.\n`);
    for (const [j, p] of parts.entries()) {
      const partPath = `${at}.parts[${j}]`;
      const members = part().oneof ?? [];
      if (!members.some((m) => field(p, m) !== undefined && field(p, m) !== null))
        return invalidArgument(
          `* GenerateContentRequest.${partPath}.data: required oneof field 'data' must have one initialized field\n`,
        );
      const inline = field(p, 'inlineData');
      if (inline !== undefined) {
        const mime = field(inline, 'mimeType');
        const data = String(field(inline, 'data') ?? '');
        if (typeof mime !== 'string' || mime === '')
          return invalidArgument(
            `* GenerateContentRequest.${partPath}.inline_data.mime_type: mime_type is required\n`,
          );
        if (mime.startsWith('image/')) {
          if (!GEMINI_IMAGE_TYPES.includes(mime)) return invalidArgument(`Unsupported MIME type: ${mime}`);
          const bytes = Buffer.from(data, 'base64');
          const looksRight = MAGIC[mime];
          // What Gemini says when image bytes cannot be decoded as the declared type.
          if (bytes.length === 0 || (looksRight && !looksRight(bytes)))
            return invalidArgument(
              'Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
            );
        }
      }
    }
  }

  const gc = field(body, 'generationConfig');
  if (gc !== undefined) {
    const mime = field(gc, 'responseMimeType');
    const hasSchema = field(gc, 'responseSchema') !== undefined;
    const jsonSchema = field(gc, 'responseJsonSchema');
    if (mime !== undefined && !RESPONSE_MIME_TYPES.includes(mime as string))
      return invalidArgument(
        '* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `text/plain`, `application/json`, `application/xml`, `application/yaml` and `text/x.enum`.\n',
      );
    // Structured output needs JSON mode; wording ours.
    if ((hasSchema || jsonSchema !== undefined) && mime !== 'application/json' && mime !== 'text/x.enum')
      return invalidArgument(
        '* GenerateContentRequest.generation_config.response_mime_type: a response schema needs response_mime_type application/json\n',
      );
    if (hasSchema && jsonSchema !== undefined)
      return invalidArgument(
        '* GenerateContentRequest.generation_config: response_schema and response_json_schema cannot both be set\n',
      );
    if (jsonSchema !== undefined) {
      const err = checkJsonSchema(jsonSchema, 'generation_config.response_json_schema');
      if (err) return invalidArgument(`* GenerateContentRequest.${err}\n`);
    }
    const temperature = field(gc, 'temperature');
    if (typeof temperature === 'number' && (temperature < 0 || temperature > 2))
      return invalidArgument(
        '* GenerateContentRequest.generation_config.temperature: temperature must be in the range [0.0, 2.0]\n',
      );
    const maxTokens = field(gc, 'maxOutputTokens');
    if (typeof maxTokens === 'number' && maxTokens < 1)
      return invalidArgument(
        '* GenerateContentRequest.generation_config.max_output_tokens: max_output_tokens must be positive\n',
      );
  }
  return undefined;
}
