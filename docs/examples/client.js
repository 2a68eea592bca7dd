// A bbb-chat API client: it signs one call with the shared secret and prints the answer. Node 18 or later, no
// packages.
//
//   API=https://bbb.example.com/bbb-chat/api SECRET='the shared secret' \
//     node client.js sendChatMessage/<meeting_id> user_name=Ann message=Hi
//
// Arguments after the call are key=value (a string) or key:=json (any JSON value, e.g. callback_events:='["meetingEnded"]').
const crypto = require("node:crypto");

// sign returns the body to send: the parameters as compact JSON, with the checksum spliced in as the last member.
// The checksum is sha512_hex(call + text + secret + unix seconds) over the exact text sent without it (docs/api.md,
// form 2), so any serialiser works as long as the text signed is the text sent.
function sign(call, params, secret) {
  const text = JSON.stringify(params);
  const now = Math.floor(Date.now() / 1000);
  const checksum = crypto.createHash("sha512").update(call + text + secret + now).digest("hex");
  return text.slice(0, -1) + (text === "{}" ? "" : ",") + `"checksum":"${checksum}"}`;
}

async function main() {
  const [endpoint, ...args] = process.argv.slice(2);
  const params = {};
  for (const arg of args) {
    const json = arg.match(/^([^=]+):=(.*)$/s);
    const str = arg.match(/^([^=]+)=(.*)$/s);
    if (json) params[json[1]] = JSON.parse(json[2]);
    else if (str) params[str[1]] = str[2];
    else throw new Error(`${arg} is not key=value or key:=json`);
  }
  // Each checksum is accepted once: a random nonce keeps two identical calls in one second apart.
  params.nonce ??= crypto.randomBytes(8).toString("hex");
  const call = endpoint.split("/")[0]; // sendChatMessage/<meeting_id> is signed as sendChatMessage
  const res = await fetch(`${process.env.API}/${endpoint}`, { method: "POST", body: sign(call, params, process.env.SECRET) });
  console.log(await res.text());
  if (!res.ok) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err.message);
  process.exitCode = 2;
});
