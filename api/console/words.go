package console

import "strings"

// The words the pages use for actions and events: the API's names are
// kept on the wire, people read these.

// verbs are actions whose name is not a verb of plain English.
var verbs = map[string]string{"change-plan": "change the plan of", "redeliver": "redeliver"}

// verb is how a sentence says action ("You are about to change the plan
// of the license …").
func verb(action string) string {
	if v, ok := verbs[action]; ok {
		return v
	}
	return action
}

// doneLabels say what an action did, for "Done: …".
var doneLabels = map[string]string{"suspend": "suspended", "reinstate": "reinstated", "revoke": "revoked", "extend": "extended",
	"change-plan": "plan changed", "transfer": "transferred", "block": "blocked", "unblock": "unblocked", "deactivate": "deactivated"}

func doneLabel(action string) string {
	if v, ok := doneLabels[action]; ok {
		return v
	}
	return action
}

// dangerous actions are drawn red: they take something away that is hard
// to give back.
var dangerous = map[string]bool{"revoke": true, "suspend": true, "delete": true, "block": true, "deactivate": true, "disable": true, "yank": true}

// eventLabels are events whose action name reads wrong on a page: an
// extension is recorded as license.renewed (the wire name stays).
var eventLabels = map[string]string{"license.renewed": "license extended"}

// eventLabel is an audit action as the timeline shows it.
func eventLabel(action string) string {
	if v, ok := eventLabels[action]; ok {
		return v
	}
	return strings.ReplaceAll(action, "_", " ")
}
