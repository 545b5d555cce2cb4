//! Check 4: replicas that applied the same index hold byte-identical state-machine snapshots,
//! sampled during the run and compared at the end between all settled members.

use crate::rng::hash_bytes;
use crate::world::Sim;

/// Replicas whose snapshots one sampling round hashes.
const SAMPLED_PER_ROUND: usize = 100;

impl Sim {
    /// Samples at most [`SAMPLED_PER_ROUND`] replicas, a different share each round: a
    /// snapshot lists every member, so sampling all of a thousand members each round would cost
    /// the run more than the cluster does.
    pub(crate) fn sample_snapshots(&mut self) {
        let live = self.live();
        let shares = live.len().div_ceil(SAMPLED_PER_ROUND).max(1);
        let share = (self.tick / crate::SAMPLE_EVERY_TICKS) as usize % shares;
        for name in live.into_iter().skip(share).step_by(shares) {
            let fsm = self.replica(&name).expect("live").fsm();
            let index = fsm.last_applied();
            if index == 0 {
                continue;
            }
            let h = hash_bytes(&fsm.create_snapshot());
            match self.samples.get(&index) {
                Some((other, h2)) if *h2 != h => {
                    let msg = format!(
                        "check 4: {name} and {other} both applied up to index {index} but their state-machine snapshots differ"
                    );
                    self.failures.push(msg);
                }
                Some(_) => {}
                None => {
                    self.samples.insert(index, (name, h));
                }
            }
        }
    }
}

pub(crate) fn check_final_snapshots(sim: &Sim, out: &mut Vec<String>) {
    let mut first: Option<(String, u64, Vec<u8>)> = None;
    for name in sim.healthy() {
        let (index, bytes) = sim.snapshot_of(&name);
        match &first {
            None => first = Some((name, index, bytes)),
            Some((other, i, b)) if *i == index && *b != bytes => out.push(format!(
                "check 4: {name} and {other} both applied up to {index} but their snapshots differ"
            )),
            Some(_) => {}
        }
    }
}
