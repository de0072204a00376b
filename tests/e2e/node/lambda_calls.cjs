'use strict';
// Drives the AWS SDK for JavaScript v3 against a gateway, as an application would.
// argv[2]: {"endpoint", "region", "accessKeyId", "secretAccessKey", "calls": [...]}, each call
// {"op": "invoke", "functionName", "qualifier"?, "payload"} or {"op": "list"}.
// stdout: one JSON result per call: {"ok": true, ...} or {"ok": false, "name", "status", "message"}.
const { LambdaClient, InvokeCommand, ListFunctionsCommand } = require('@aws-sdk/client-lambda');

async function run(client, call) {
  if (call.op === 'invoke') {
    const out = await client.send(new InvokeCommand({
      FunctionName: call.functionName,
      Qualifier: call.qualifier,
      Payload: Buffer.from(JSON.stringify(call.payload)),
    }));
    return { ok: true, status: out.StatusCode, payload: JSON.parse(Buffer.from(out.Payload).toString()) };
  }
  const out = await client.send(new ListFunctionsCommand({}));
  return { ok: true, names: out.Functions.map((f) => f.FunctionName) };
}

async function main() {
  const job = JSON.parse(process.argv[2]);
  const client = new LambdaClient({
    endpoint: job.endpoint,
    region: job.region,
    credentials: { accessKeyId: job.accessKeyId, secretAccessKey: job.secretAccessKey },
    maxAttempts: 1,
  });
  const results = [];
  for (const call of job.calls) {
    try {
      results.push(await run(client, call));
    } catch (error) {
      const status = error.$metadata ? error.$metadata.httpStatusCode : undefined;
      results.push({ ok: false, name: error.name, status, message: error.message });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
