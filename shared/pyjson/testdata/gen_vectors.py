#!/usr/bin/env python3
"""Golden vectors for shared/pyjson and shared/checksum, computed by CPython.

  gen_vectors.py pyjson    > shared/pyjson/testdata/vectors.jsonl
  gen_vectors.py checksum  > shared/checksum/testdata/vectors.jsonl
  gen_vectors.py roundtrip < base64 lines > result lines

The Go tests regenerate these files with `go test -update`. The roundtrip mode
serves the differential test: for each base64 line on stdin it prints
"OK <json.dumps(json.loads(body))>", "ERR <exception class>", or "ENC" when
json.loads(bytes) would not decode the body as UTF-8 (UTF-16/32 guess).

pyjson: one JSON object per line:
  name   case name
  in     the request body, base64 (bytes, as json.loads(request.body) got them)
  text   the body decoded for humans (backslashreplace), not used by the tests
  out    json.dumps(json.loads(body)), or null when json.loads raised
  error  the exception class name when json.loads raised, else null

checksum: the original bbb-chat formula, for a client that builds its params,
signs sha512(call + json.dumps(params) + secret + str(ts)), adds "checksum" as
the last key and sends json.dumps(params) (the README's client snippet):
  name, call, secret, ts
  params   the params as the client wrote them (base64 JSON text, no checksum)
  canon    json.dumps(json.loads(params))
  checksum the hex sha512
  body     base64 of json.dumps(params_with_checksum): what goes on the wire
"""

import base64
import hashlib
import json
import sys


def b64(b):
    return base64.b64encode(b).decode("ascii")


PYJSON = [
    # the test vector's params, Python-style and compact
    ("sendchat_python", b'{"user_name": "Bob", "message": "hi"}'),
    ("sendchat_compact", b'{"user_name":"Bob","message":"hi"}'),
    ("pretty", b'{\n  "a": 1,\n  "b": [\n    true,\n    false,\n    null\n  ]\n}\n'),
    ("whitespace", b' \t\r\n{ "a" : 1 , "b" :[ 1 ,2 ] }\r\n\t '),
    ("bom", b'\xef\xbb\xbf{"a": "b"}'),
    ("scalar_string", b'"x"'),
    ("scalar_int", b"42"),
    ("scalar_true", b"true"),
    ("scalar_false", b"false"),
    ("scalar_null", b"null"),
    ("empty_object", b"{}"),
    ("empty_array", b"[ ]"),
    ("empty_string", b'""'),
    # non-ASCII, raw and escaped
    ("umlauts_raw", '{"m": "Grüße, 你好, Ωμέγα"}'.encode()),
    ("umlauts_escaped", b'{"m": "Gr\\u00fc\\u00dfe"}'),
    ("emoji_raw", '["😀", "👍🏽", "🇩🇪"]'.encode()),
    ("emoji_escaped_pair", b'"\\ud83d\\ude00"'),
    ("emoji_escaped_upper", b'"\\uD83D\\uDE00"'),
    ("html_chars", b'"<script>alert(\'x\') && a/b</script>"'),
    ("escaped_solidus", b'"a\\/b"'),
    ("escapes_all", b'"\\" \\\\ \\/ \\b \\f \\n \\r \\t"'),
    ("controls_escaped", b'"\\u0000\\u0001\\u001f\\u0008\\u000c\\u000a\\u000d\\u0009\\u0020"'),
    ("del_raw", b'"\x7f"'),
    ("del_escaped", b'"\\u007f"'),
    ("u2028_raw", '"a\u2028b\u2029c"'.encode()),
    ("nbsp_bom_chars", '"\u00a0\ufeff\ufffd"'.encode()),
    ("max_codepoint", '"\U0010ffff"'.encode()),
    # lone surrogates
    ("lone_high", b'"\\ud800"'),
    ("lone_low", b'"\\udc00"'),
    ("lone_high_upper", b'"\\uDBFF"'),
    ("lone_high_then_char", b'"\\ud800x"'),
    ("high_then_bmp_escape", b'"\\ud83d\\u0041"'),
    ("low_then_high", b'"\\udc00\\ud800"'),
    ("high_high_low", b'"\\ud800\\ud800\\udc00"'),
    ("pair_then_low", b'"\\ud800\\udc00\\udc00"'),
    ("raw_surrogate", b'"\xed\xa0\x80"'),
    ("raw_surrogate_pair", b'"\xed\xa0\xbd\xed\xb8\x80"'),
    ("escaped_high_raw_low", b'"\\ud83d\xed\xb8\x80"'),
    ("lone_in_key", b'{"\\ud800": 1, "k\\udfff": 2}'),
    # nesting
    ("nested", b'{"a": [1, {"b": [], "c": {}}, [[]]], "d": {"e": null, "f": [{"g": "h"}]}}'),
    ("deep_100", b"[" * 100 + b"]" * 100),
    ("deep_objects", b'{"a":' * 50 + b"1" + b"}" * 50),
    # duplicate keys: first position, last value
    ("dup_keys", b'{"a": 1, "b": 2, "a": 3}'),
    ("dup_keys_nested", b'{"a": {"x": 1}, "b": 0, "a": {"y": 2}}'),
    ("dup_keys_escaped", b'{"a": 1, "\\u0061": 2}'),
    ("dup_keys_many", ("{" + ", ".join('"k%d": %d' % (i % 40, i) for i in range(100)) + "}").encode()),
    ("dup_emoji_pair_vs_raw", '{"😀": 1, "\\ud83d\\ude00": 2}'.encode()),
    ("dup_raw_surrogates_vs_pair", b'{"\xed\xa0\xbd\xed\xb8\x80": 1, "\\ud83d\\ude00": 2}'),
    ("dup_checksum", b'{"checksum": "a", "m": "x", "checksum": "b"}'),
    # ints
    ("int_zero", b"[0, -0, 1, -1]"),
    ("int_2_64", b"[18446744073709551616, -9223372036854775809]"),
    ("int_googol", b"-1" + b"0" * 100),
    ("int_4300_digits", b"9" * 4300),
    ("int_neg_4300_digits", b"-" + b"9" * 4300),
    # floats
    ("floats_repr_switch", b"[1e16, 1e15, 1e-5, 1e-4, 0.0001, 0.00001, 1e17, 9999999999999998.0]"),
    ("floats_simple", b"[0.1, 0.2, 0.30000000000000004, 1.0, 100.0, 1.5, -2.5, 0.0, -0.0]"),
    ("floats_exp_forms", b"[1E5, 1e+5, 1.0e+2, 1E-7, 2e0, 1.25E+300]"),
    ("floats_extremes", b"[5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 4.9e-324]"),
    ("floats_overflow", b"[1E400, -1E400, 1e999999999999999999999]"),
    ("floats_underflow", b"[1e-400, -1e-400, 0e999]"),
    ("floats_big_integral", b"[123456789012345678.0, 1e22, 1e21, 9007199254740993.0, 1e23]"),
    ("floats_long_mantissa", b"[" + b"1" * 5000 + b".5, 0." + b"3" * 400 + b"]"),
    ("nan_inf", b"[NaN, Infinity, -Infinity]"),
    ("nan_inf_in_object", b'{"n": NaN, "i": Infinity, "m": -Infinity}'),
    ("mixed", b'{"s": "x", "i": 1, "f": 1.5, "t": true, "n": null, "a": [], "o": {}}'),
    # rejected
    ("bad_raw_control", b'"\x01"'),
    ("bad_raw_newline", b'"a\nb"'),
    ("bad_raw_tab", b'"a\tb"'),
    ("bad_utf8_ff", b'"\xff"'),
    ("bad_utf8_overlong", b'"\xc0\x80"'),
    ("bad_utf8_too_big", b'"\xf4\x90\x80\x80"'),
    ("bad_utf8_truncated", b'"\xe2\x82"'),
    ("bad_utf8_outside_string", b'{"a": 1}\xff'),
    ("bad_escape_x", b'"\\x41"'),
    ("bad_escape_quote", b"\"\\'\""),
    ("bad_escape_u_short", b'"\\u12"'),
    ("bad_escape_u_nonhex", b'"\\uzzzz"'),
    ("bad_escape_u_plus", b'"\\u+123"'),
    ("bad_escape_pair_nonhex", b'"\\ud800\\uzzzz"'),
    ("bad_int_4301_digits", b"9" * 4301),
    ("bad_trailing_comma_array", b"[1,]"),
    ("bad_trailing_comma_object", b'{"a": 1,}'),
    ("bad_single_quotes", b"{'a': 1}"),
    ("bad_bare_key", b"{a: 1}"),
    ("bad_leading_zero", b"01"),
    ("bad_dot_end", b"1."),
    ("bad_dot_start", b".5"),
    ("bad_plus", b"+1"),
    ("bad_minus", b"-"),
    ("bad_double_minus", b"--1"),
    ("bad_exp_empty", b"1e"),
    ("bad_exp_sign_only", b"1e+"),
    ("bad_nan_lower", b"nan"),
    ("bad_minus_nan", b"-NaN"),
    ("bad_infinity_lower", b"infinity"),
    ("bad_python_true", b"True"),
    ("bad_empty", b""),
    ("bad_only_ws", b" \n "),
    ("bad_two_boms", b"\xef\xbb\xbf\xef\xbb\xbf{}"),
    ("bad_unterminated", b'"abc'),
    ("bad_unterminated_escape", b'"abc\\'),
    ("bad_trailing_data", b'{"a": 1} x'),
    ("bad_two_values", b"1 2"),
    ("bad_missing_colon", b'{"a" 1}'),
    ("bad_missing_comma", b'{"a": 1 "b": 2}'),
    ("bad_unclosed_object", b'{"a": 1'),
    ("bad_unclosed_array", b"[1, 2"),
    ("bad_formfeed_ws", b"\x0c1"),
    ("bad_nbsp_ws", "\u00a01".encode()),
    ("bad_comment", b"[1 /* x */]"),
    ("bad_nul", b"[\x00]"),
]


CHECKSUM = [
    # name, call, secret, ts, params text (as the client's json would have them)
    ("known_vector", "sendChatMessage", "s3cr3t", 1700000000, '{"user_name": "Bob", "message": "hi"}'),
    ("readme_snippet", "endChatForMeeting", "change_me", 1614000000, '{"meeting_id": "12345678901234567890-123456789"}'),
    ("start_chat", "startChat", "change_me", 1700000123,
     '{"chat_id": "m1", "chat_user": "Stream", "callback_uri": "https://peer.example/api/chat/", '
     '"callback_secret": "x/y+z=", "callback_id": "42"}'),
    ("non_ascii", "sendMessage", "s3cr3t", 1700000000, '{"chat_id": "m1", "user_name": "Jürgen", "message": "Grüße 你好"}'),
    ("emoji", "sendMessage", "s3cr3t", 1700000000, '{"chat_id": "m1", "user_name": "Bob", "message": "👍🏽 ok 😀"}'),
    ("html", "sendMessage", "s3cr3t", 1700000000, '{"chat_id": "m1", "user_name": "<b>", "message": "<a href=\\"/x\\">&amp;</a>"}'),
    ("controls", "sendMessage", "s3cr3t", 1700000000, '{"chat_id": "m1", "user_name": "a", "message": "line1\\nline2\\t\\u0000\\u007f\\u2028"}'),
    ("lone_surrogate", "sendMessage", "s3cr3t", 1700000000, '{"chat_id": "m1", "user_name": "a", "message": "split \\ud83d"}'),
    ("nested", "startChat", "s3cr3t", 1700000000, '{"chat_id": "m1", "extra": {"a": [1, 2.5, null, true], "b": {}}}'),
    ("dup_keys", "sendMessage", "s3cr3t", 1700000000, '{"message": "first", "chat_id": "m1", "message": "last"}'),
    ("numbers", "sendMessage", "s3cr3t", 1700000000, '{"big": 123456789012345678901234567890, "f": 1e16, "g": 1E-5, "z": -0.0, "h": 1E400, "n": NaN}'),
    ("non_ascii_secret", "sendMessage", "sécret-€", 1700000000, '{"chat_id": "m1"}'),
    ("empty_params", "runningChats", "s3cr3t", 1700000000, "{}"),
]


def gen_pyjson(out):
    for name, body in PYJSON:
        rec = {"name": name, "in": b64(body), "text": body.decode("utf-8", "backslashreplace")[:200]}
        try:
            rec["out"] = json.dumps(json.loads(body))
            rec["error"] = None
        except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            rec["out"] = None
            rec["error"] = type(e).__name__
        out.write(json.dumps(rec) + "\n")


def gen_checksum(out):
    for name, call, secret, ts, params_text in CHECKSUM:
        params = json.loads(params_text)
        canon = json.dumps(params)
        checksum = hashlib.sha512((call + canon + secret + str(ts)).encode("utf-8")).hexdigest()
        params["checksum"] = checksum
        body = json.dumps(params)
        out.write(json.dumps({
            "name": name, "call": call, "secret": secret, "ts": ts,
            "params": b64(params_text.encode("utf-8")), "canon": canon,
            "checksum": checksum, "body": b64(body.encode("utf-8")),
        }) + "\n")


def roundtrip(inp, out):
    for line in inp:
        body = base64.b64decode(line)
        if json.detect_encoding(body) not in ("utf-8", "utf-8-sig"):
            out.write("ENC\n")
            continue
        try:
            out.write("OK " + json.dumps(json.loads(body)) + "\n")
        except (ValueError, RecursionError) as e:
            out.write("ERR " + type(e).__name__ + "\n")


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which == "pyjson":
        gen_pyjson(sys.stdout)
    elif which == "checksum":
        gen_checksum(sys.stdout)
    elif which == "roundtrip":
        roundtrip(sys.stdin, sys.stdout)
    else:
        sys.exit("usage: gen_vectors.py pyjson|checksum|roundtrip")


if __name__ == "__main__":
    main()
