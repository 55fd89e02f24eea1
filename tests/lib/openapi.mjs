// Checks real responses against the server's own OpenAPI document: every
// black-box call goes through check(), so a response that drifts from the
// published contract fails the test that made it.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export async function loadContract(base) {
  const r = await fetch(`${base}/api/v1/openapi.json`);
  const doc = await r.json();
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'openapi', components: doc.components });
  const routes = Object.keys(doc.paths).map((p) => ({
    template: p,
    re: new RegExp('^' + p.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
    ops: doc.paths[p],
  }));
  const validators = new Map();
  const rewrite = (schema) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'));

  function check(method, url, status, contentType, body) {
    const path = new URL(url, 'http://x').pathname;
    const route = routes.find((r) => r.re.test(path));
    if (!route) throw new Error(`${method} ${path}: not in the OpenAPI document`);
    const op = route.ops[method.toLowerCase()];
    if (!op) throw new Error(`${method} ${route.template}: method not in the OpenAPI document`);
    const resp = op.responses[String(status)];
    if (!resp) throw new Error(`${method} ${route.template}: status ${status} not documented`);
    if (!resp.content) {
      if (body && body.length) throw new Error(`${method} ${route.template} ${status}: body where none is documented`);
      return;
    }
    const ct = (contentType || '').split(';')[0].trim();
    const media = resp.content[ct];
    if (!media) throw new Error(`${method} ${route.template} ${status}: content type ${ct} not documented`);
    if (!ct.includes('json')) return;
    const key = `${method} ${route.template} ${status} ${ct}`;
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile(rewrite(media.schema));
      validators.set(key, validate);
    }
    const value = JSON.parse(body);
    if (!validate(value)) {
      throw new Error(`${key}: response does not match the schema: ${ajv.errorsText(validate.errors)}\n${body.slice(0, 500)}`);
    }
  }
  return { doc, check };
}
