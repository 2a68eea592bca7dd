// A bbb-chat callback receiver: it accepts a callback whose Standard Webhooks signature or original bbb-chat
// checksum is right (one is enough), drops repeated deliveries by webhook-id, and prints each chat message. Standard
// library only. A secret written whsec_<base64> keys the signature with its decoded bytes.
//
//	SECRET='the callback_secret' PORT=8080 go run receiver.go
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var secret = os.Getenv("SECRET")

// signatureOK checks webhook-signature: v1,base64(HMAC-SHA256(key, id.timestamp.body)).
func signatureOK(h http.Header, body []byte) bool {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(t, 0)).Abs() > 5*time.Minute {
		return false
	}
	key := []byte(secret)
	if b64, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if key, err = base64.StdEncoding.DecodeString(b64); err != nil {
			return false
		}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// checksumOK checks the original bbb-chat checksum: sha512(call + params + secret + unix seconds), where params is
// the body without its last member, "checksum" (bbb-chat writes the body as Python's json.dumps does).
func checksumOK(call string, body []byte) bool {
	i := strings.LastIndex(string(body), `, "checksum": "`)
	if i < 0 {
		return false
	}
	params := string(body[:i]) + "}"
	got := strings.TrimSuffix(string(body[i+len(`, "checksum": "`):]), `"}`)
	now := time.Now().Unix()
	for t := now - 30; t <= now+5; t++ {
		sum := sha512.Sum512([]byte(call + params + secret + strconv.FormatInt(t, 10)))
		if hmac.Equal([]byte(hex.EncodeToString(sum[:])), []byte(got)) {
			return true
		}
	}
	return false
}

func main() {
	var mu sync.Mutex
	seen := map[string]bool{} // webhook-ids handled; keep them in a store of yours for real
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var msg map[string]any
		if json.Unmarshal(body, &msg) != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		call := "meetingEnded"
		if t, ok := msg["type"].(string); ok {
			call = t // every kind but the first version's three carries its type, which is also its call name
		} else if _, ok := msg["message"]; ok {
			call = "sendChatMessage"
		} else if _, ok := msg["chat_id"]; ok {
			call = "chatCleared"
		}
		if !signatureOK(r.Header, body) && !checksumOK(call, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		dup := seen[r.Header.Get("webhook-id")]
		seen[r.Header.Get("webhook-id")] = true
		mu.Unlock()
		if !dup {
			if call == "sendChatMessage" {
				fmt.Printf("%s: %s\n", msg["user_name"], msg["message"])
			} else {
				fmt.Printf("%s %s\n", call, msg["meeting_id"])
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
}
