package state

import "encoding/json"

// AppendEvent appends the JSON encoding of e, as json.Marshal writes it, to dst and returns the extended slice.
// It is the payload relay stores in the events stream for each event (docs/nats.md).
func AppendEvent(dst []byte, e Event) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		// Event holds strings, an int64 and a bool, none of which encoding/json refuses.
		panic("state: encoding an event: " + err.Error())
	}
	return append(dst, b...)
}
