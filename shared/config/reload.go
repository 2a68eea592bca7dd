package config

import (
	"reflect"
	"slices"
	"strings"
)

// Reloaded lists the settings that SIGHUP (systemctl reload) applies without a restart, for an Ingress or a Relay
// configuration; every other key takes a restart. It is the one list the binaries, their reload log line and the
// docs (README, docs/operations.md, deploy/env/bbb-chat.env: tested) go by.
func Reloaded(cfg any) []string {
	switch cfg.(type) {
	case Ingress, *Ingress:
		return []string{"BBB_CHAT_LOG_LEVEL", "BBB_CHAT_MESSAGE_TEMPLATE", "BBB_CHAT_CALLBACK_ALLOW",
			"BBB_CHAT_SHARED_SECRET", "BBB_CHAT_SHARED_SECRET_FILE", "BBB_CHAT_SHARED_SECRET_OLD",
			"BBB_CHAT_PUBLIC_URL", "BBB_CHAT_VIEWER_TEMPLATE", "BBB_CHAT_VIEWER_SLOW_MODE",
			"BBB_CHAT_VIEWER_BLOCKLIST_FILE", "BBB_CHAT_VIEWER_FRAME_ANCESTORS", "BBB_CHAT_VIEWER_MAX_STREAMS_PER_ADDRESS"}
	case Relay, *Relay:
		return []string{"BBB_CHAT_LOG_LEVEL", "BBB_CHAT_CALLBACK_ALLOW"}
	}
	return nil
}

// ReloadedText is Reloaded's keys for a log line: "BBB_CHAT_LOG_LEVEL, BBB_CHAT_CALLBACK_ALLOW".
func ReloadedText(cfg any) string { return strings.Join(Reloaded(cfg), ", ") }

// RestartOnly lists the keys whose values differ between running and loaded (two configurations of one type) and
// that a reload does not apply (Reloaded), in the struct's order.
func RestartOnly(running, loaded any) []string {
	a, b := reflect.Indirect(reflect.ValueOf(running)), reflect.Indirect(reflect.ValueOf(loaded))
	if a.Type() != b.Type() || a.Kind() != reflect.Struct {
		return nil
	}
	reloaded := Reloaded(running)
	var out []string
	var walk func(a, b reflect.Value)
	walk = func(a, b reflect.Value) {
		for i := range a.NumField() {
			f := a.Type().Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(a.Field(i), b.Field(i))
				continue
			}
			key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			if key == "" || slices.Contains(reloaded, key) {
				continue
			}
			if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
				out = append(out, key)
			}
		}
	}
	walk(a, b)
	return out
}
