// Runs the Node verification snippet from docs/webhooks.md against deliveries a test received.
// Usage: node run_snippet.js SNIPPET_FILE CASES_JSON_FILE
// Each case is {"body": <base64 raw body>, "header": <X-Backstop-Signature>}; prints the statuses.
const fs = require("fs");
const path = require("path");

const [snippetFile, casesFile] = process.argv.slice(2);
const { handleBackstopWebhook } = require(path.resolve(snippetFile));
const cases = JSON.parse(fs.readFileSync(casesFile, "utf8"));
const statuses = cases.map((c) => handleBackstopWebhook(Buffer.from(c.body, "base64"), c.header));
process.stdout.write(JSON.stringify(statuses));
