<?php
// A bbb-chat callback receiver: it accepts a callback whose Standard Webhooks signature or original bbb-chat
// checksum is right (one is enough), drops repeated deliveries by webhook-id, and prints each chat message. PHP 8,
// no packages. A secret written whsec_<base64> keys the signature with its decoded bytes.
//
//   SECRET='the callback_secret' SEEN_FILE=/tmp/seen php -S 127.0.0.1:8080 receiver.php
// (php -S is PHP's development server, one request at a time; behind a real web server, keep the webhook-ids in a
// database rather than in a file.)

$secret = getenv('SECRET');

// signature_ok checks webhook-signature: v1,base64(HMAC-SHA256(key, id.timestamp.body)).
function signature_ok(string $secret, string $body): bool
{
    $id = $_SERVER['HTTP_WEBHOOK_ID'] ?? '';
    $ts = $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '';
    if (!ctype_digit($ts) || abs(time() - (int) $ts) > 300) {
        return false;
    }
    $key = str_starts_with($secret, 'whsec_') ? base64_decode(substr($secret, 6)) : $secret;
    $want = 'v1,' . base64_encode(hash_hmac('sha256', "$id.$ts.$body", $key, true));
    foreach (explode(' ', $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '') as $sig) {
        if (hash_equals($want, $sig)) {
            return true;
        }
    }
    return false;
}

// checksum_ok checks the original checksum: sha512(call + params + secret + unix seconds), where params is the body
// without its last member, "checksum" (bbb-chat writes the body as Python's json.dumps does).
function checksum_ok(string $secret, string $call, string $body): bool
{
    $i = strrpos($body, ', "checksum": "');
    if ($i === false) {
        return false;
    }
    $params = substr($body, 0, $i) . '}';
    $got = substr($body, $i + strlen(', "checksum": "'), -2);
    for ($t = time() - 30; $t <= time() + 5; $t++) {
        if (hash_equals(hash('sha512', $call . $params . $secret . $t), $got)) {
            return true;
        }
    }
    return false;
}

$body = file_get_contents('php://input');
$msg = json_decode($body, true);
if (!is_array($msg)) {
    http_response_code(400);
    exit;
}
$call = isset($msg['message']) ? 'sendChatMessage' : (isset($msg['chat_id']) ? 'chatCleared' : 'meetingEnded');
if (!signature_ok($secret, $body) && !checksum_ok($secret, $call, $body)) {
    http_response_code(401);
    exit;
}
// webhook-ids handled, one per line; keep them in a store of yours for real.
$seen = getenv('SEEN_FILE') ?: sys_get_temp_dir() . '/bbb-chat-receiver.seen';
$id = $_SERVER['HTTP_WEBHOOK_ID'] ?? '';
$ids = is_file($seen) ? file($seen, FILE_IGNORE_NEW_LINES) : [];
if (!in_array($id, $ids, true)) {
    file_put_contents($seen, "$id\n", FILE_APPEND | LOCK_EX);
    $line = $call === 'sendChatMessage' ? "{$msg['user_name']}: {$msg['message']}" : "$call {$msg['meeting_id']}";
    file_put_contents('php://stdout', "$line\n");
}
http_response_code(204);
