//! `event_type` matcher, the one filter that also decides non-flow records.
//!
//! Guarantees (cilium v1.19 `event_type.go`): a flow must carry `event_type`; an entry matches when its type is 0
//! or equal, and (only if `match_sub_type`) its sub type is equal. Agent events match entries of type 0 or 130
//! (sub type compared with the `flow.AgentEventType` number); debug events entries of type 0 or 2 (sub type vs
//! `flow.DebugEventType`); lost events always match; node status records never do.

use super::build::MatchFn;
use super::spec::EventTypeFilterSpec;
use super::Event;

/// Monitor message type of agent notifications.
pub const MESSAGE_TYPE_AGENT: i32 = 130;
/// Monitor message type of debug messages.
pub const MESSAGE_TYPE_DEBUG: i32 = 2;

fn sub_ok(f: &EventTypeFilterSpec, actual: Option<i32>) -> bool {
    !f.match_sub_type || actual == Some(f.sub_type)
}

/// Whether the entries match an event.
pub fn matches(types: &[EventTypeFilterSpec], ev: Event<'_, '_>) -> bool {
    match ev {
        Event::Flow(f) => {
            let Some(et) = f.event_type else { return false };
            types.iter().any(|t| {
                (t.event_type == 0 || t.event_type == et.event_type) && sub_ok(t, Some(et.sub_type))
            })
        }
        Event::Agent(sub) => types
            .iter()
            .any(|t| (t.event_type == 0 || t.event_type == MESSAGE_TYPE_AGENT) && sub_ok(t, sub)),
        Event::Debug(sub) => types
            .iter()
            .any(|t| (t.event_type == 0 || t.event_type == MESSAGE_TYPE_DEBUG) && sub_ok(t, sub)),
        Event::Lost => true,
        Event::NodeStatus => false,
    }
}

/// Builds the matcher.
pub fn matcher(types: Vec<EventTypeFilterSpec>) -> MatchFn {
    Box::new(move |ev| matches(&types, ev))
}
