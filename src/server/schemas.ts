/**
 * JSON schemas of the API: fastify validates bodies with them (Ajv) and @fastify/swagger turns
 * them into the OpenAPI document at /openapi.json. Vectors are validated by hand (dimension,
 * finiteness) so those errors get their own codes (E_DIMENSION, E_NOT_FINITE).
 */
import type { Limits } from './config.js';

const id = { anyOf: [{ type: 'string', minLength: 1, maxLength: 1024 }, { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }], description: 'point id: a string or a non-negative integer (as the collection\'s idType)' };
const vector = { type: 'array', description: 'the vector: `dimension` finite numbers' };
const error = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } },
};
const errors = { 400: error, 401: error, 403: error, 404: error, 409: error, 413: error, 415: error, 503: error };
const nameParam = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };

export function schemas(l: Limits) {
  return {
    createCollection: {
      summary: 'Create a collection',
      params: nameParam,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['dimension'],
        properties: {
          dimension: { type: 'integer', description: `1..${l.maxDimension}` },
          metric: { type: 'string', enum: ['l2', 'ip', 'cos'], default: 'l2' },
          index: { type: 'string', maxLength: 256, description: 'a Faiss factory string (e.g. "IVF1024,PQ32x4fs,Refine(SQ8)") or "auto"', default: 'auto' },
          idType: { type: 'string', enum: ['integer', 'string'], default: 'integer' },
          payloadIndex: { type: 'array', maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 128 }, description: 'payload fields to index (the fields filters can use)' },
        },
      },
      response: errors,
    },
    collection: { summary: 'Describe a collection (configuration and statistics)', params: nameParam, response: errors },
    upsert: {
      summary: 'Upsert a batch of points; acknowledged once durable (fsync) and visible to searches',
      params: nameParam,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['points'],
        properties: {
          points: {
            type: 'array',
            description: `1..${l.batchPoints} points`,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['id', 'vector'],
              properties: { id, vector, payload: { type: ['object', 'null'], description: `a JSON object of at most ${l.payloadBytes} bytes` } },
            },
          },
        },
      },
      response: errors,
    },
    deletePoints: {
      summary: 'Delete points by id',
      params: nameParam,
      body: { type: 'object', additionalProperties: false, required: ['ids'], properties: { ids: { type: 'array', items: id } } },
      response: errors,
    },
    getPoints: {
      summary: 'Fetch points by id (absent ids are left out)',
      params: nameParam,
      body: {
        type: 'object', additionalProperties: false, required: ['ids'],
        properties: { ids: { type: 'array', items: id }, withVector: { type: 'boolean', default: false } },
      },
      response: errors,
    },
    getPoint: {
      summary: 'Fetch one point',
      params: { type: 'object', properties: { name: { type: 'string' }, id: { type: 'string' } }, required: ['name', 'id'] },
      querystring: { type: 'object', properties: { withVector: { type: 'string', enum: ['true', 'false'] } } },
      response: errors,
    },
    search: {
      summary: 'k nearest points, optionally filtered on indexed payload fields (inside the scan)',
      params: nameParam,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['vector'],
        properties: {
          vector,
          k: { type: 'integer', default: 10, description: `1..${l.maxK}` },
          filter: { type: 'object', description: 'field → value | {"in": [...]} | {"eq": v} | {"gt"|"gte"|"lt"|"lte": number}; all must hold' },
          nprobe: { type: 'integer', minimum: 1, maximum: 65536, description: 'inverted lists visited (IVF indexes)' },
          kFactor: { type: 'number', minimum: 1, maximum: 1024, description: 'refine factor: k·kFactor candidates re-ranked (indexes with Refine)' },
          withPayload: { type: 'boolean', default: true },
          withVector: { type: 'boolean', default: false },
        },
      },
      response: errors,
    },
    simple: { response: errors },
    named: { params: nameParam, response: errors },
  };
}
