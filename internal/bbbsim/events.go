package bbbsim

import (
	"time"
)

// Redis channels (docs/protocol.md §1).
const (
	ChannelToAkka           = "to-akka-apps-redis-channel"            // requests into akka-apps
	ChannelFromAkka         = "from-akka-apps-redis-channel"          // almost every event
	ChannelFromAkkaChat     = "from-akka-apps-chat-redis-channel"     // ClearPublicChatHistoryEvtMsg
	ChannelFromAkkaFrontend = "from-akka-apps-frontend-redis-channel" // duplicates of some events (2.3+)
)

// MainPublicChat is the id of every meeting's public chat.
const MainPublicChat = "MAIN-PUBLIC-GROUP-CHAT"

// outMsg is one message akka-apps publishes.
type outMsg struct {
	channel string
	data    []byte
}

// opt is v when cond holds and nil otherwise; nil fields are left out when encoding, as Jackson's NON_NULL does.
func opt(cond bool, v any) any {
	if cond {
		return v
	}
	return nil
}

func envelopeJSON(name string, routing ordered, ts int64, header, body ordered) []byte {
	return encode(o(
		"envelope", o("name", name, "routing", routing, "timestamp", ts),
		"core", o("header", header, "body", body),
	))
}

func routeMeeting(meetingID, userID string) ordered {
	return o("msgType", "BROADCAST_TO_MEETING", "meetingId", meetingID, "userId", userID)
}

func routeSystem() ordered { return o("sender", "bbb-apps-akka") }

func headerClient(name, meetingID, userID string) ordered {
	return o("name", name, "meetingId", meetingID, "userId", userID)
}

// alsoFrontend reports whether akka-apps v publishes the "both channels" events (MeetingCreated, MeetingEnding,
// MeetingDestroyed, UserLeftMeeting) on the frontend channel too (docs/protocol.md §1.2: 2.3 and later).
func alsoFrontend(v ver) bool { return v >= v23 }

// onMainAndFrontend returns data on the main channel and, where v does so, on the frontend channel.
func onMainAndFrontend(v ver, data []byte) []outMsg {
	out := []outMsg{{ChannelFromAkka, data}}
	if alsoFrontend(v) {
		out = append(out, outMsg{ChannelFromAkkaFrontend, data})
	}
	return out
}

// javaDate formats t like java.util.Date.toString, as akka fills durationProps.createdDate.
func javaDate(t time.Time) string { return t.Format("Mon Jan 02 15:04:05 MST 2006") }

// meetingCreated builds MeetingCreatedEvtMsg (docs/protocol.md §5). The props are BBB's meeting properties of each
// version (as BBB 2.4, 2.5.0, 2.6.14 and 3.0.x define them; 2.7 exactly as captured). 2.2 and 2.3 use the 2.4 layout
// without the learning dashboard fields, and 2.2 without systemProps: an approximation, since only meetingProp and
// durationProps matter to a consumer.
func meetingCreated(v ver, m *meeting, ts int64) []outMsg {
	created := time.UnixMilli(m.CreatedTime).UTC()
	var meetingProp ordered
	switch {
	case v <= v24:
		meetingProp = o("name", m.Name, "extId", m.ExtID, "intId", m.IntID, "isBreakout", m.isBreakout,
			"learningDashboardEnabled", opt(v >= v24, true))
	case v == v25:
		meetingProp = o("name", m.Name, "extId", m.ExtID, "intId", m.IntID, "meetingCameraCap", 50,
			"isBreakout", m.isBreakout, "disabledFeatures", m.disabledList())
	default:
		meetingProp = o("name", m.Name, "extId", m.ExtID, "intId", m.IntID, "meetingCameraCap", 50,
			"maxPinnedCameras", 3,
			"cameraBridge", opt(v >= v30, "bbb-webrtc-sfu"),
			"screenShareBridge", opt(v >= v30, "bbb-webrtc-sfu"),
			"audioBridge", opt(v >= v30, "bbb-webrtc-sfu"),
			"isBreakout", m.isBreakout, "disabledFeatures", m.disabledList(), "notifyRecordingIsOn", false,
			"presentationUploadExternalDescription", "", "presentationUploadExternalUrl", "")
	}
	var breakoutProps ordered
	switch {
	case v <= v24:
		breakoutProps = o("parentId", m.parentID(), "sequence", 0, "freeJoin", false, "breakoutRooms", []string{},
			"enabled", true, "record", false, "privateChatEnabled", true)
	case v == v25:
		breakoutProps = o("parentId", m.parentID(), "sequence", 0, "freeJoin", false, "breakoutRooms", []string{},
			"record", false, "privateChatEnabled", true)
	default:
		breakoutProps = o("parentId", m.parentID(), "sequence", 0, "freeJoin", false, "breakoutRooms", []string{},
			"record", false, "privateChatEnabled", true, "captureNotes", false, "captureSlides", false,
			"captureNotesFilename", "%%CONFNAME%%", "captureSlidesFilename", "%%CONFNAME%%")
	}
	durationProps := o("duration", 0, "createdTime", m.CreatedTime, "createdDate", javaDate(created),
		"meetingExpireIfNoUserJoinedInMinutes", 5, "meetingExpireWhenLastUserLeftInMinutes", 1,
		"userInactivityInspectTimerInMinutes", 0, "userInactivityThresholdInMinutes", 30,
		"userActivitySignResponseDelayInMinutes", 5, "endWhenNoModerator", false,
		"endWhenNoModeratorDelayInMinutes", 1)
	password := o("moderatorPass", "mp", "viewerPass", "ap",
		"learningDashboardAccessToken", opt(v >= v24, m.dashboardToken))
	recordProp := o("record", false, "autoStartRecording", false, "allowStartStopRecording", true,
		"recordFullDurationMedia", opt(v >= v26, false), "keepEvents", true)
	var welcomeProp ordered
	if v < v30 {
		welcomeProp = o("welcomeMsgTemplate", "<br>Welcome to <b>%%CONFNAME%%</b>!",
			"welcomeMsg", "<br>Welcome to <b>"+m.Name+"</b>!", "modOnlyMessage", "")
	} else {
		welcomeProp = o("welcomeMsg", "<br>Welcome to <b>"+m.Name+"</b>!", "welcomeMsgForModerators", "")
	}
	voiceProp := o("telVoice", m.voiceConf, "voiceConf", m.voiceConf, "dialNumber", "613-555-1234",
		"muteOnStart", false)
	usersProp := o("maxUsers", 0,
		"maxUserConcurrentAccesses", opt(v >= v26, 3),
		"webcamsOnlyForModerator", false,
		"userCameraCap", opt(v >= v25, 3),
		"guestPolicy", "ALWAYS_ACCEPT", "meetingLayout", "CUSTOM_LAYOUT", "allowModsToUnmuteUsers", false,
		"allowModsToEjectCameras", false, "authenticatedGuest", false,
		"allowPromoteGuestToModerator", opt(v >= v30, false),
		"waitingGuestUsersTimeout", opt(v >= v30, 30000))
	metadataProp := o("metadata", map[string]string{})
	var lockSettingsProps ordered
	switch {
	case v <= v24:
		lockSettingsProps = o("disableCam", false, "disableMic", false, "disablePrivateChat", false,
			"disablePublicChat", m.lockPublicChat, "disableNote", false, "hideUserList", false,
			"lockedLayout", false, "lockOnJoin", true, "lockOnJoinConfigurable", false)
	default:
		lockSettingsProps = o("disableCam", false, "disableMic", false, "disablePrivateChat", false,
			"disablePublicChat", m.lockPublicChat, "disableNotes", false, "hideUserList", false,
			"lockedLayout", opt(v == v25, false),
			"lockOnJoin", true, "lockOnJoinConfigurable", false, "hideViewersCursor", false,
			"hideViewersAnnotation", opt(v >= v27, false))
	}
	var systemProps any
	switch {
	case v == v22:
	case v < v30:
		systemProps = o("html5InstanceId", 1)
	default:
		systemProps = o("loginUrl", "", "logoutUrl", "", "customLogoURL", "", "customDarkLogoURL", "",
			"bannerText", "", "bannerColor", "", "html5PluginSdkVersion", "")
	}
	var screenshareProps any
	if v <= v24 {
		screenshareProps = o("screenshareConf", m.voiceConf+"-SCREENSHARE", "red5ScreenshareIp", "127.0.0.1",
			"red5ScreenshareApp", "video-broadcast")
	}
	props := o(
		"pluginProp", opt(v >= v30, map[string]string{}),
		"meetingProp", meetingProp,
		"breakoutProps", breakoutProps,
		"durationProps", durationProps,
		"password", password,
		"recordProp", recordProp,
		"welcomeProp", welcomeProp,
		"voiceProp", voiceProp,
		"usersProp", usersProp,
		"metadataProp", metadataProp,
		"screenshareProps", screenshareProps,
		"lockSettingsProps", lockSettingsProps,
		"systemProps", systemProps,
		"groups", opt(v >= v25, []string{}),
		"overrideClientSettings", opt(v >= v30, ""),
	)
	data := envelopeJSON("MeetingCreatedEvtMsg", routeSystem(), ts, o("name", "MeetingCreatedEvtMsg"),
		o("props", props))
	return onMainAndFrontend(v, data)
}

// userJoined builds UserJoinedMeetingEvtMsg (docs/protocol.md §4.1).
func userJoined(v ver, meetingID string, u *user, ts int64) []outMsg {
	const name = "UserJoinedMeetingEvtMsg"
	body := o(
		"intId", u.ID, "extId", u.ExtID, "name", u.Name, "role", u.Role,
		"bot", opt(v >= v30, u.Bot),
		"guest", false, "authed", true, "guestStatus", "ALLOW",
		"emoji", opt(v < v30, "none"),
		"reactionEmoji", opt(v >= v27, "none"),
		"raiseHand", opt(v >= v27, false),
		"away", opt(v >= v27, false),
		"pin", opt(v >= v25, false),
		"presenter", false, "locked", u.Locked, "avatar", "",
		"webcamBackground", opt(v >= v30, ""),
		"color", opt(v >= v26, u.Color),
		"clientType", u.clientType,
		"joinRequestMetadata", opt(v >= v40, map[string]string{}),
		"userMetadata", opt(v >= v30, map[string]string{}),
	)
	return clientEvent(name, meetingID, u.ID, body, ts)
}

// userLeft builds UserLeftMeetingEvtMsg (docs/protocol.md §4.2).
func userLeft(v ver, meetingID, userID string, ts int64) []outMsg {
	const name = "UserLeftMeetingEvtMsg"
	body := o("intId", userID)
	if v >= v25 {
		body = o("intId", userID, "eject", false, "ejectedBy", "", "reason", "", "reasonCode", "")
	}
	data := envelopeJSON(name, routeMeeting(meetingID, userID), ts, headerClient(name, meetingID, userID), body)
	return onMainAndFrontend(v, data)
}

// userRegistered builds UserRegisteredRespMsg, akka's answer to RegisterUserReqMsg.
func userRegistered(v ver, meetingID string, r *regUser, ts int64) []outMsg {
	const name = "UserRegisteredRespMsg"
	body := o("meetingId", meetingID, "userId", r.id, "name", r.name, "role", r.role,
		"excludeFromDashboard", opt(v >= v24, r.excludeFromDashboard),
		"registeredOn", opt(v >= v24, r.registeredOn))
	data := envelopeJSON(name, routeSystem(), ts, o("name", name, "meetingId", meetingID), body)
	return []outMsg{{ChannelFromAkka, data}}
}

// chatSender is the akka-side user record that goes into a broadcast.
type chatSender struct {
	id, name, role string
}

// Message types of 4.0's broadcast (common-message GroupChatMessageType).
const (
	msgTypeDefault = "default"
	msgTypeAPI     = "api"
)

// chatBroadcast builds GroupChatMessageBroadcastEvtMsg (docs/protocol.md §3.4, §3.8). correlationID, color, message,
// replyTo and metadata are echoed from the request as parsed: a string (an object for metadata), or nil for an
// explicit null (which Jackson then leaves out of the event). msgType is 4.0's messageType.
func chatBroadcast(v ver, meetingID, headerUserID, chatID string, c *ChatMessage, s chatSender,
	correlationID, color, message, replyTo any, msgType string, metadata any, ts int64) []outMsg {
	const name = "GroupChatMessageBroadcastEvtMsg"
	sender := o("id", s.id, "name", s.name)
	if v >= v25 {
		sender = o("id", s.id, "name", s.name, "role", s.role)
	}
	msg := o(
		"id", c.ID, "timestamp", c.Timestamp, "correlationId", correlationID, "sender", sender,
		"color", opt(v <= v24, color),
		"chatEmphasizedText", opt(v >= v25, c.Emphasized),
		"message", message,
		"messageAsHtml", opt(v >= v40, messageAsHTML(c.Message)),
		"replyToMessageId", opt(v >= v30, replyTo),
		"messageType", opt(v >= v40, msgType),
		"metadata", opt(v >= v40, metadata),
	)
	return clientEvent(name, meetingID, headerUserID,
		o("chatId", chatID, "chatParticipants", opt(v >= v40, []string{}), "msg", msg), ts)
}

// chatCleared builds ClearPublicChatHistoryEvtMsg (docs/protocol.md §3.6), which goes to the chat channel only.
func chatCleared(meetingID, userID, chatID string, ts int64) []outMsg {
	const name = "ClearPublicChatHistoryEvtMsg"
	data := envelopeJSON(name, routeMeeting(meetingID, userID), ts, headerClient(name, meetingID, userID),
		o("chatId", chatID))
	return []outMsg{{ChannelFromAkkaChat, data}}
}

// meetingEnd builds MeetingEndingEvtMsg, MeetingEndedEvtMsg and MeetingDestroyedEvtMsg (docs/protocol.md §5).
func meetingEnd(v ver, meetingID string, ts int64) []outMsg {
	const ending, ended, destroyed = "MeetingEndingEvtMsg", "MeetingEndedEvtMsg", "MeetingDestroyedEvtMsg"
	var out []outMsg
	out = append(out, onMainAndFrontend(v, envelopeJSON(ending, routeMeeting(meetingID, "not-used"), ts,
		headerClient(ending, meetingID, "not-used"), o("meetingId", meetingID, "reason", "ENDED_FROM_API")))...)
	out = append(out, outMsg{ChannelFromAkka, envelopeJSON(ended, routeSystem(), ts, o("name", ended),
		o("meetingId", meetingID))})
	out = append(out, onMainAndFrontend(v, envelopeJSON(destroyed, routeSystem(), ts, o("name", destroyed),
		o("meetingId", meetingID)))...)
	return out
}
