# A client written exactly like the original bbb-chat README's example (json.dumps, sha512, requests.post with
# data=json.dumps(...), no Content-Type), calling start, send and end.
import hashlib
import json
import sys
from datetime import datetime

import requests

BASE, SHARED_SECRET, MEETING_ID = sys.argv[1], sys.argv[2], sys.argv[3]


def call(name, param_dict, path=None):
    json_encoded = json.dumps(param_dict)
    call = name + json_encoded
    param_dict["checksum"] = hashlib.sha512(
        (call + SHARED_SECRET + str(int(datetime.now().timestamp()))).encode("utf-8")).hexdigest()
    r = requests.post(BASE + "/api/" + (path or name), data=json.dumps(param_dict))
    print(name, r.status_code, r.text.strip())
    if r.status_code != 200 or not r.json()["success"]:
        sys.exit(1)


call("startChatForMeeting", {"meeting_id": MEETING_ID, "chat_user": "Chat Bridge"})
call("sendChatMessage", {"user_name": "Jürgen 😀", "message": "Grüße <b>aus</b> Python"},
     path="sendChatMessage/" + MEETING_ID)
call("getChatInfo", {"meeting_id": MEETING_ID})
call("endChatForMeeting", {"meeting_id": MEETING_ID})
