/**
 * The Gemini peer refuses what the real API refuses, with the real 400 bodies, and accepts what
 * the real API accepted (recorded requests that got a 200). Without this, a product change that
 * sends a malformed request would still be answered by the peer and no test would notice.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError, GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { classifyError } from '../../src/rerank/response.ts';
import { FIXTURES_DIR } from '../support/fixtures.ts';
import { photoJpeg } from '../support/recording-handler.ts';
import { useGeminiPeer } from './helpers.ts';

const API_KEY = 'AIzaTEST-strict-peer-key';
const peer = useGeminiPeer();
const GEMINI = path.join(FIXTURES_DIR, 'gemini');
const json = <T>(file: string): T => JSON.parse(readFileSync(path.join(GEMINI, file), 'utf8')) as T;

interface ErrorAnswer {
  error: { code: number; message: string; status: string; details: Array<Record<string, unknown>> };
  candidates?: unknown[];
}

async function post(body: unknown): Promise<{ status: number; body: ErrorAnswer }> {
  const res = await fetch(`${peer.url}/v1beta/models/gemini-2.5-flash:generateContent`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-goog-api-key': API_KEY },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as ErrorAnswer };
}

const text = (t: string) => ({ contents: [{ role: 'user', parts: [{ text: t }] }] });

describe('gemini peer: accepts what Google accepted', () => {
  it.each([
    'Client_Tests_generateContent_ML_Dev_should_generate_content_with_given_valid_json_schema_in_responseSchema.json',
    'Client_Tests_generateContent_ML_Dev_should_generate_content_with_specified_parameters.json',
    'Client_Tests_generateContent_ML_Dev_should_generate_content_with_system_instruction.json',
  ])('recorded request %s → 200', async (file) => {
    const rec = json<{ interactions: Array<{ request: { bodySegments: unknown[] } }> }>(
      `js-genai-recordings/${file}`,
    );
    const res = await post(rec.interactions[0]!.request.bodySegments[0]);
    expect(res.status).toBe(200);
    expect(res.body.candidates).toHaveLength(1);
  });

  it('documented snake_case REST bodies (response_schema with OpenAPI types, inline_data) → 200', async () => {
    expect(
      (await post(json<{ body: unknown }>('rest_request_structured_output_api_examples.json').body)).status,
    ).toBe(200);
    expect(
      (await post(json<{ body: unknown }>('rest_request_json_mode_no_schema_api_examples.json').body)).status,
    ).toBe(200);
    // The docs example with its placeholders replaced by real JPEG bytes.
    const b64 = (await photoJpeg()).toString('base64');
    const twoImages = JSON.stringify(
      json<{ body: unknown }>('rest_request_two_images_inline_data_api_examples.json').body,
    )
      .replace('<BASE64_JPEG_1>', b64)
      .replace('<BASE64_JPEG_2>', b64);
    expect((await post(JSON.parse(twoImages))).status).toBe(200);
  });
});

describe('gemini peer: refuses what Google refuses, with its 400 body', () => {
  it('an unknown field → "Unknown name … Cannot find field." with a BadRequest field violation', async () => {
    const res = await post({
      ...text('hi'),
      generationConfig: { responseMimeType: 'application/json', foo: 1 },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: `Invalid JSON payload received. Unknown name "foo" at 'generation_config': Cannot find field.`,
    });
    expect(res.body.error.details[0]).toMatchObject({
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [{ field: 'generation_config' }],
    });
    const top = await post({ ...text('hi'), google: {} });
    expect(top.body.error.message).toBe(
      'Invalid JSON payload received. Unknown name "google": Cannot find field.',
    );
  });

  it('a lower-case OpenAPI type in responseSchema → Invalid value … Type', async () => {
    const res = await post({
      ...text('hi'),
      generationConfig: { responseMimeType: 'application/json', responseSchema: { type: 'object' } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(
      `Invalid value at 'generation_config.response_schema.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), "object"`,
    );
  });

  it('the docs example with its base64 placeholders → TYPE_BYTES Base64 decoding failed', async () => {
    const res = await post(
      json<{ body: unknown }>('rest_request_two_images_inline_data_api_examples.json').body,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(
      `Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), Base64 decoding failed for "<BASE64_JPEG_1>"`,
    );
  });

  it.each([
    [{ contents: [] }, '* GenerateContentRequest.contents: contents is not specified\n'],
    [
      { contents: [{ role: 'user', parts: [] }] },
      '* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n',
    ],
    [
      { contents: [{ role: 'user', parts: [{ thought: true }] }] },
      "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' must have one initialized field\n",
    ],
    [{ contents: [{ role: 'system', parts: [{ text: 'x' }] }] }, 'Please use a valid role: user, model.'],
    [
      { ...text('x'), generationConfig: { responseMimeType: 'text/html' } },
      '* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `text/plain`, `application/json`, `application/xml`, `application/yaml` and `text/x.enum`.\n',
    ],
    [
      { contents: [{ parts: [{ inlineData: { mimeType: 'image/gif', data: 'R0lGODlh' } }] }] },
      'Unsupported MIME type: image/gif',
    ],
  ])('%j → %j', async (body, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 400, message, status: 'INVALID_ARGUMENT' });
  });

  it('two data members in one part, bytes that are not the declared image type, contradictory schemas', async () => {
    const both = await post({
      contents: [{ parts: [{ text: 'x', inlineData: { mimeType: 'image/png', data: 'AAAA' } }] }],
    });
    expect(both.body.error.message).toMatch(/Oneof field 'data' is already set/);
    const png = await post({
      contents: [
        { parts: [{ inlineData: { mimeType: 'image/png', data: (await photoJpeg()).toString('base64') } }] },
      ],
    });
    expect(png.body.error.message).toMatch(/^Unable to process input image/);
    const schemas = await post({
      ...text('x'),
      generationConfig: {
        responseMimeType: 'application/json',
        responseJsonSchema: {
          type: 'object',
          properties: { a: { type: 'integer', minimum: 5, maximum: 1 } },
        },
      },
    });
    expect(schemas.status).toBe(400);
    expect(schemas.body.error.message).toContain('minimum 5 is greater than maximum 1');
    const noJson = await post({ ...text('x'), generationConfig: { responseJsonSchema: { type: 'object' } } });
    expect(noJson.status).toBe(400);
  });

  it('reaches the real SDK as an ApiError 400, which the reranker reads as bad_request', async () => {
    const client = new GoogleGenAI({ apiKey: API_KEY, vertexai: false, httpOptions: { baseUrl: peer.url } });
    const err = await client.models
      .generateContent({
        model: 'gemini-2.5-flash',
        contents: 'hi',
        config: { responseMimeType: 'text/html' },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect(classifyError(err)).toEqual({ reason: 'bad_request', httpStatus: 400 });
    expect(peer.requests[0]?.response?.status).toBe(400);
  });
});
