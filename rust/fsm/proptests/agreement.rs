//! Properties over random runs of any command: the state machine's invariants hold after every
//! command, it agrees with the reference model on everything observable, and applying borrowed
//! log entries agrees with applying owned commands.

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every prefix of a random command sequence leaves the state machine's internal invariants
    /// intact (unique members, no empty registration lists, lock table and deadline index in
    /// step, no free lock kept).
    #[test]
    fn invariants_hold_after_every_command(steps in steps(1..120)) {
        let planned = plan(&steps, &mut Model::default(), &mut Clock::default());
        let mut sm = StateMachine::new();
        for (i, p) in planned.iter().enumerate() {
            sm.apply(p.cmd.msg.clone(), &p.cmd.ctx());
            if let Err(e) = sm.check_invariants() {
                return Err(TestCaseError::fail(format!("after step {i} {:?}: {e}", p.cmd)));
            }
        }
    }

    /// The state machine agrees with the reference model on every response and event, on the
    /// holder of every lock, and on every map, counter, set, sync map, member and registration
    /// query (maps at several times, so TTL boundaries are read as absent at the deadline).
    /// Locks: one holder at a time, queued waiters granted in FIFO order skipping expired,
    /// cancelled and departed ones (the model's queue); a grant's fencing token is its command's
    /// index, strictly increasing per lock and from command to command. Counters: wrapping sums
    /// and CAS results.
    #[test]
    fn agrees_with_the_reference_model(steps in steps(1..120)) {
        check_against_model(&steps)?;
    }

    /// Replicas apply log entries in place (`apply_once_ref`, borrowing the entry's bytes); that
    /// gives the same outcomes, the same snapshot bytes and the same handling of repeats as
    /// applying the owned commands (`apply_once`).
    #[test]
    fn borrowed_and_owned_applies_agree(steps in steps(1..120)) {
        let planned = plan(&steps, &mut Model::default(), &mut Clock::default());
        let mut owned = StateMachine::new();
        let mut borrowed = StateMachine::new();
        for p in &planned {
            let ctx = p.cmd.ctx();
            let mut payload = Vec::new();
            p.cmd.msg.encode_payload(&mut payload);
            let kind = p.cmd.msg.get_message_kind();
            // The second time is a repeat (skipped, unless the command removed the origin's
            // session: a leave).
            for _ in 0..2 {
                let view = MessageRef::decode_payload(kind, &payload).unwrap();
                let a = owned.apply_once(p.cmd.msg.clone(), &ctx, ctx.request_id);
                let b = borrowed.apply_once_ref(view, &ctx, ctx.request_id);
                prop_assert_eq!(a, b, "{:?}", p.cmd);
            }
            prop_assert_eq!(owned.create_snapshot(), borrowed.create_snapshot(), "{:?}", p.cmd);
        }
    }
}
