package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// Presence is one user present in a meeting, as relay saw it join.
type Presence struct {
	UserID   string    `json:"user_id"`
	Name     string    `json:"name"`
	Role     string    `json:"role,omitempty"`
	JoinedAt time.Time `json:"joined_at"`
	// Locked: the meeting's lock settings apply to the user (locks.go).
	Locked bool `json:"locked,omitempty"`
	// PublicChatLocked: the user's own lock settings (3.0) keep it out of the public chat unless a moderator.
	PublicChatLocked bool `json:"public_chat_locked,omitempty"`
}

type nameEntry struct {
	Users []Presence `json:"users"`
}

// Presence is kept per server (Options.Server, BBB_CHAT_SERVER_ID): <server>.<meeting>.u.<user> and
// <server>.<meeting>.n.<name hash>, so another bbb-chat on the same NATS never touches it. Releases before kept it
// unkeyed (<meeting>.u.<user>): those entries are still read, left and cleared (legacy*), and never written.
func presenceUserKey(meetingID, userID string) string { return Key(meetingID) + ".u." + Key(userID) }
func presenceNameKey(meetingID, name string) string   { return Key(meetingID) + ".n." + hashKey(name) }

// presencePrefix is this server's part of the presence bucket.
func (s *Store) presencePrefix() string { return Key(s.server) + "." }

func (s *Store) userKey(meetingID, userID string) string {
	return s.presencePrefix() + presenceUserKey(meetingID, userID)
}
func (s *Store) nameKey(meetingID, name string) string {
	return s.presencePrefix() + presenceNameKey(meetingID, name)
}

// UserJoined records that a user is present. Joining again (a reconnect) moves it to the front.
func (s *Store) UserJoined(ctx context.Context, meetingID string, p Presence) error {
	if _, err := putJSON(ctx, s.presence, s.userKey(meetingID, p.UserID), p); err != nil {
		return err
	}
	return s.changeName(ctx, meetingID, p.Name, func(n *nameEntry) {
		out := n.Users[:0]
		for _, u := range n.Users {
			if u.UserID != p.UserID {
				out = append(out, u)
			}
		}
		n.Users = append(out, p)
	})
}

// UserLeft records that a user left. Unknown users are ignored.
func (s *Store) UserLeft(ctx context.Context, meetingID, userID string) error {
	if err := s.userLeft(ctx, s.userKey(meetingID, userID), s.nameKey, meetingID, userID); err != nil {
		return err
	}
	// A user who joined before the upgrade to keys per server.
	return s.userLeft(ctx, presenceUserKey(meetingID, userID), presenceNameKey, meetingID, userID)
}

func (s *Store) userLeft(ctx context.Context, userKey string, nameKey func(meetingID, name string) string, meetingID, userID string) error {
	var p Presence
	_, err := getJSON(ctx, s.presence, userKey, &p)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.changeNameKey(ctx, nameKey(meetingID, p.Name), p.Name, func(n *nameEntry) {
		out := n.Users[:0]
		for _, u := range n.Users {
			if u.UserID != userID {
				out = append(out, u)
			}
		}
		n.Users = out
	}); err != nil {
		return err
	}
	if err := s.presence.Purge(ctx, userKey); err != nil {
		return wrap("presence", err)
	}
	return nil
}

// changeName applies change to the name index entry with compare-and-set, deleting it when it becomes empty.
func (s *Store) changeName(ctx context.Context, meetingID, name string, change func(*nameEntry)) error {
	return s.changeNameKey(ctx, s.nameKey(meetingID, name), name, change)
}

func (s *Store) changeNameKey(ctx context.Context, key, name string, change func(*nameEntry)) error {
	for i := 0; ; i++ {
		var n nameEntry
		rev, err := getJSON(ctx, s.presence, key, &n)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		change(&n)
		switch {
		case len(n.Users) == 0 && rev == 0:
			return nil
		case len(n.Users) == 0:
			err = s.presence.Delete(ctx, key, jetstream.LastRevision(rev))
		case rev == 0:
			_, err = createJSON(ctx, s.presence, key, n)
			if errors.Is(err, ErrExists) {
				err = jetstream.ErrKeyExists
			}
		default:
			_, err = updateJSON(ctx, s.presence, key, n, rev)
		}
		if err == nil {
			return nil
		}
		if !isConflict(err) || i > 50 {
			return wrap(fmt.Sprintf("presence of %q", name), err)
		}
	}
}

// FindUser returns the present user with that display name who joined last.
func (s *Store) FindUser(ctx context.Context, meetingID, name string) (Presence, error) {
	var n nameEntry
	_, err := getJSON(ctx, s.presence, s.nameKey(meetingID, name), &n)
	if errors.Is(err, ErrNotFound) {
		_, err = getJSON(ctx, s.presence, presenceNameKey(meetingID, name), &n) // joined before the upgrade
	}
	if err != nil {
		return Presence{}, err
	}
	if len(n.Users) == 0 {
		return Presence{}, ErrNotFound
	}
	return n.latest(), nil
}

// latest is the user of the entry who joined last.
func (n nameEntry) latest() Presence {
	best := n.Users[0]
	for _, u := range n.Users[1:] {
		if !u.JoinedAt.Before(best.JoinedAt) {
			best = u
		}
	}
	return best
}

// PresentUser returns the user with that id present in the meeting; ErrNotFound when there is none.
func (s *Store) PresentUser(ctx context.Context, meetingID, userID string) (Presence, error) {
	var p Presence
	_, err := getJSON(ctx, s.presence, s.userKey(meetingID, userID), &p)
	if errors.Is(err, ErrNotFound) {
		_, err = getJSON(ctx, s.presence, presenceUserKey(meetingID, userID), &p) // joined before the upgrade
	}
	if err != nil {
		return Presence{}, err
	}
	return p, nil
}

// MeetingUsers lists the users present in a meeting.
func (s *Store) MeetingUsers(ctx context.Context, meetingID string) ([]Presence, error) {
	ks, err := keys(ctx, s.presence, s.presencePrefix()+Key(meetingID)+".u.*")
	if err != nil {
		return nil, err
	}
	legacy, err := keys(ctx, s.presence, Key(meetingID)+".u.*")
	if err != nil {
		return nil, err
	}
	ks = append(ks, legacy...)
	var out []Presence
	for _, k := range ks {
		var p Presence
		if _, err := getJSON(ctx, s.presence, k, &p); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// ClearPresence forgets every user of a meeting (it ended; BBB sends no UserLeft then).
func (s *Store) ClearPresence(ctx context.Context, meetingID string) error {
	ks, err := keys(ctx, s.presence, s.presencePrefix()+Key(meetingID)+".>")
	if err != nil {
		return err
	}
	legacy, err := keys(ctx, s.presence, Key(meetingID)+".>")
	if err != nil {
		return err
	}
	ks = append(ks, legacy...)
	for _, k := range ks {
		if err := s.presence.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return wrap("clear presence", err)
		}
	}
	return nil
}
