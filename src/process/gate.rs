//! When to ask the prefilter at all.
//!
//! The byte-level prefilter (`hubble_flow::prefilter`) pays for itself on lines it rejects: a rejected line
//! skips the decoder. On a line it passes it is pure cost, and on the lines that *are* kept it has to scan
//! nearly the whole line to find every piece of evidence. In an all-kept stretch of input (a replay of saved
//! drops, a deny storm) it costs about 6 % of the CPU and saves nothing. [`PrefilterGate`] watches what the
//! prefilter would save and stops asking it while that is too little, over the lines one pipeline worker sees
//! (its state carries over from batch to batch, [`crate::process::Processor::process_gated`]):
//!
//! - **Filtering** (the start): the prefilter is asked about every line. After [`WINDOW`] lines, if it rejected
//!   fewer than [`WORTH_IT`] of them, the gate switches to bypassing.
//! - **Bypassing**: lines go straight to the decoder, and the gate counts the ones that turn out not kept
//!   (filtered out, malformed, not a flow): lines the prefilter might have saved. As soon as [`WORTH_IT`] of
//!   the last [`WINDOW`] lines were not kept, it switches back to filtering.
//!
//! Guarantees: the gate only decides whether a line is looked at twice, so what is kept, encoded and output is
//! the same with it as without the prefilter at all (the prefilter never rejects a line that would be kept).
//! Only how the lines that are not kept are counted moves between "prefiltered" and their record kind (and,
//! as the state follows a worker and any worker may take the next batch, that split may differ from run to run
//! when kept and not-kept stretches alternate; `--no-prefilter` gives exact per-kind counts). The cost
//! of a wrong guess is bounded: a bypass costs at most [`WORTH_IT`] needless decodes before filtering resumes.

/// Lines per decision.
pub const WINDOW: u32 = 64;
/// Lines in a [`WINDOW`] the prefilter must (be able to) save for it to be asked: one in eight. A rejected line
/// saves a decode, about ten times the cost of the prefilter scan on a passed line, so below this share the scan
/// costs more than it saves.
pub const WORTH_IT: u32 = WINDOW / 8;

/// Whether to ask the prefilter about the next line; see the module docs.
#[derive(Debug, Clone)]
pub struct PrefilterGate {
    filtering: bool,
    /// Lines noted in the current window.
    seen: u32,
    /// Of those, lines the prefilter rejected (filtering) or lines not kept (bypassing).
    savable: u32,
}

impl Default for PrefilterGate {
    fn default() -> Self {
        PrefilterGate {
            filtering: true,
            seen: 0,
            savable: 0,
        }
    }
}

impl PrefilterGate {
    /// Whether the prefilter should see the next line.
    #[inline]
    pub fn filtering(&self) -> bool {
        self.filtering
    }

    /// Notes one line's outcome: while filtering, whether the prefilter rejected it; while bypassing, whether
    /// the line turned out not kept.
    #[inline]
    pub fn note(&mut self, savable: bool) {
        self.seen += 1;
        self.savable += u32::from(savable);
        if self.filtering {
            if self.seen == WINDOW {
                self.filtering = self.savable >= WORTH_IT;
                self.reset();
            }
        } else if self.savable >= WORTH_IT {
            self.filtering = true;
            self.reset();
        } else if self.seen == WINDOW {
            self.reset();
        }
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.savable = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `outcomes` (savable or not) and returns whether the gate was filtering before each.
    fn run(gate: &mut PrefilterGate, outcomes: impl IntoIterator<Item = bool>) -> Vec<bool> {
        outcomes
            .into_iter()
            .map(|s| {
                let f = gate.filtering();
                gate.note(s);
                f
            })
            .collect()
    }

    #[test]
    fn all_kept_input_stops_asking_after_one_window() {
        let mut g = PrefilterGate::default();
        let asked = run(&mut g, std::iter::repeat_n(false, 1000));
        assert!(asked[..WINDOW as usize].iter().all(|&f| f));
        assert!(asked[WINDOW as usize..].iter().all(|&f| !f));
    }

    #[test]
    fn a_useful_prefilter_keeps_being_asked() {
        let mut g = PrefilterGate::default();
        // One line in four rejected (a mixed log keeps far fewer).
        let asked = run(&mut g, (0..1000).map(|i| i % 4 == 0));
        assert!(asked.iter().all(|&f| f));
    }

    #[test]
    fn exactly_the_threshold_keeps_filtering_one_less_bypasses() {
        let mut g = PrefilterGate::default();
        run(&mut g, (0..WINDOW).map(|i| i < WORTH_IT));
        assert!(g.filtering());
        let mut g = PrefilterGate::default();
        run(&mut g, (0..WINDOW).map(|i| i < WORTH_IT - 1));
        assert!(!g.filtering());
    }

    #[test]
    fn bypassing_resumes_filtering_after_worth_it_lines_not_kept() {
        let mut g = PrefilterGate::default();
        run(&mut g, std::iter::repeat_n(false, WINDOW as usize));
        assert!(!g.filtering());
        // Kept lines, then lines not kept: filtering resumes on the WORTH_IT-th miss, not at the window's end.
        run(&mut g, std::iter::repeat_n(false, 10));
        let asked = run(&mut g, std::iter::repeat_n(true, WORTH_IT as usize + 1));
        assert_eq!(
            asked[..WORTH_IT as usize],
            vec![false; WORTH_IT as usize][..]
        );
        assert!(asked[WORTH_IT as usize]);
    }

    #[test]
    fn misses_spread_thinner_than_the_threshold_stay_bypassed() {
        let mut g = PrefilterGate::default();
        run(&mut g, std::iter::repeat_n(false, WINDOW as usize));
        // WORTH_IT - 1 misses per window, windows after windows: each window starts its count afresh.
        let asked = run(&mut g, (0..10 * WINDOW).map(|i| i % WINDOW < WORTH_IT - 1));
        assert!(asked.iter().all(|&f| !f));
    }

    #[test]
    fn needless_decodes_are_bounded_whatever_the_pattern() {
        // Adversarial: runs of kept lines long enough to bypass, then lines the prefilter would reject.
        let mut g = PrefilterGate::default();
        let pattern = (0..100_000u32).map(|i| i % 128 >= 64);
        let mut needless = 0u32;
        let mut savable_lines = 0u32;
        for s in pattern {
            if s {
                savable_lines += 1;
                if !g.filtering() {
                    needless += 1;
                }
            }
            g.note(s);
        }
        // At most WORTH_IT needless decodes per switch to bypassing, and a switch needs a window of kept lines.
        assert!(
            needless <= savable_lines / (WINDOW / WORTH_IT),
            "{needless} of {savable_lines}"
        );
    }
}
