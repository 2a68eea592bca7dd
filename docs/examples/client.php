<?php
// A bbb-chat API client: it signs one call with the shared secret and prints the answer. PHP 8 with curl or with
// allow_url_fopen (the default), no packages.
//
//   API=https://bbb.example.com/bbb-chat/api SECRET='the shared secret' \
//     php client.php sendChatMessage/<meeting_id> user_name=Ann message=Hi
//
// Arguments after the call are key=value (a string) or key:=json (any JSON value).

// sign returns the body to send: the parameters as json_encode writes them, with the checksum spliced in as the
// last member. The checksum is sha512_hex(call + text + secret + unix seconds) over the exact text sent without it
// (docs/api.md, form 2), so json_encode's "\/" and "\u00e9" are fine: the text signed is the text sent.
function sign(string $call, array $params, string $secret): string
{
    $text = json_encode((object) $params, JSON_THROW_ON_ERROR);
    $checksum = hash('sha512', $call . $text . $secret . time());
    return substr($text, 0, -1) . ($text === '{}' ? '' : ',') . '"checksum":"' . $checksum . '"}';
}

$endpoint = $argv[1] ?? '';
$params = [];
foreach (array_slice($argv, 2) as $arg) {
    if (preg_match('/^([^=]+):=(.*)$/s', $arg, $m)) {
        $params[$m[1]] = json_decode($m[2], false, 512, JSON_THROW_ON_ERROR);
    } elseif (preg_match('/^([^=]+)=(.*)$/s', $arg, $m)) {
        $params[$m[1]] = $m[2];
    } else {
        fwrite(STDERR, "$arg is not key=value or key:=json\n");
        exit(2);
    }
}
// Each checksum is accepted once: a random nonce keeps two identical calls in one second apart.
$params['nonce'] ??= bin2hex(random_bytes(8));
$call = explode('/', $endpoint)[0]; // sendChatMessage/<meeting_id> is signed as sendChatMessage
$context = stream_context_create(['http' => [
    'method' => 'POST',
    'header' => "Content-Type: application/json\r\n",
    'content' => sign($call, $params, getenv('SECRET')),
    'ignore_errors' => true, // read the JSON answer of a 4xx or 5xx too
]]);
$answer = file_get_contents(getenv('API') . '/' . $endpoint, false, $context);
if ($answer === false) {
    fwrite(STDERR, "no answer from " . getenv('API') . "\n");
    exit(2);
}
echo $answer;
preg_match('{^HTTP/\S+ (\d+)}', $http_response_header[0] ?? '', $status);
exit(($status[1] ?? '') === '200' ? 0 : 1);
