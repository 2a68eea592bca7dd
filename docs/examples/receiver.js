// A bbb-chat callback receiver: it accepts a callback whose Standard Webhooks signature or original bbb-chat
// checksum is right (one is enough), drops repeated deliveries by webhook-id, and prints each chat message. Node 18
// or later, no packages. A secret written whsec_<base64> keys the signature with its decoded bytes.
//
//   SECRET='the callback_secret' PORT=8080 node receiver.js
const crypto = require("node:crypto");
const http = require("node:http");

const SECRET = process.env.SECRET;
const seen = new Set(); // webhook-ids handled; keep them in a store of yours for real

function same(a, b) {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// signatureOK checks webhook-signature: v1,base64(HMAC-SHA256(key, id.timestamp.body)).
function signatureOK(headers, body) {
  const id = headers["webhook-id"] || "", ts = headers["webhook-timestamp"] || "";
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const key = SECRET.startsWith("whsec_") ? Buffer.from(SECRET.slice(6), "base64") : Buffer.from(SECRET);
  const mac = crypto.createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest("base64");
  return (headers["webhook-signature"] || "").split(" ").some((sig) => same(sig, `v1,${mac}`));
}

// checksumOK checks the original checksum: sha512(call + params + secret + unix seconds), where params is the body
// without its last member, "checksum" (bbb-chat writes the body as Python's json.dumps does).
function checksumOK(call, body) {
  const text = body.toString("utf8");
  const i = text.lastIndexOf(', "checksum": "');
  if (i < 0) return false;
  const params = text.slice(0, i) + "}";
  const got = text.slice(i + ', "checksum": "'.length, -2);
  const now = Math.floor(Date.now() / 1000);
  for (let t = now - 30; t <= now + 5; t++) {
    const want = crypto.createHash("sha512").update(call + params + SECRET + t).digest("hex");
    if (same(want, got)) return true;
  }
  return false;
}

http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    let msg;
    try {
      msg = JSON.parse(body);
    } catch {
      res.writeHead(400).end("not JSON");
      return;
    }
    const call = "message" in msg ? "sendChatMessage" : "chat_id" in msg ? "chatCleared" : "meetingEnded";
    if (!signatureOK(req.headers, body) && !checksumOK(call, body)) {
      res.writeHead(401).end("bad signature");
      return;
    }
    const id = req.headers["webhook-id"];
    if (!seen.has(id)) {
      seen.add(id);
      console.log(call === "sendChatMessage" ? `${msg.user_name}: ${msg.message}` : `${call} ${msg.meeting_id}`);
    }
    res.writeHead(204).end();
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
