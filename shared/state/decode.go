package state

import (
	"encoding/json"
	"fmt"
)

// DecodeEvent decodes an event of the events stream into e, through json.Unmarshal: keys are matched in any
// case, unknown keys are ignored and a null leaves its field as it is. Relay's callback workers decode every event
// they deliver with it.
func DecodeEvent(data []byte, e *Event) error {
	if err := json.Unmarshal(data, e); err != nil {
		return fmt.Errorf("state: decode event: %w", err)
	}
	return nil
}
