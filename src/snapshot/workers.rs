//! How many zstd workers, and how many chunks of queue, each stream of a run gets. All of a
//! snapshot's streams run at once (job/streams.rs), and a multi-threaded zstd stream holds
//! about 5 MiB per worker plus 10 MiB (its jobs' input and output, and each worker's match
//! tables), so a worker count per stream would multiply: a job with a tar stream and four
//! dumps took 92 MiB on 2 cores and 197 MiB with `threads = 8`, against DESIGN.md's 100 MiB.
//! The job's workers are therefore one budget that its streams share, and so are the queue in
//! front of the uploads, the lag each destination may have (job/fanout.rs) and, per
//! connection, the writes in flight (remote/sftp/upload.rs).

use crate::config::JobConfig;

/// The streams of a run of `job`: the sources' tar stream when it has sources, and one per
/// command.
pub fn streams(job: &JobConfig) -> usize {
    first_command(job) + job.commands.len()
}

/// The stream number of `job`'s first command: the sources' stream, when there is one, is 0.
pub fn first_command(job: &JobConfig) -> usize {
    usize::from(!job.sources.is_empty())
}

/// The most workers `threads = 0` starts. A multi-threaded stream holds about 5.5 MiB per
/// worker plus 10 MiB, so four bound a run near 55 MiB whatever its number of streams (one
/// stream: 4 workers; two: 2 + 2; more: one each, then none). Four zstd -3 workers take
/// about 1.2 GB/s here, more than most links carry; `threads = N` gives more to an operator
/// who has the link and the memory for them.
pub const AUTO_MAX: u32 = 4;

/// The job's worker budget: `threads`, or one per core up to [`AUTO_MAX`] when it is 0.
pub fn budget(threads: u32, cores: u32) -> u32 {
    if threads == 0 {
        cores.clamp(1, AUTO_MAX)
    } else {
        threads
    }
}

/// The workers of stream `index` out of `streams`: an equal share of `budget`, the first
/// streams (the sources, then the commands in config order) taking one more while the budget
/// does not divide evenly. A stream left with none compresses on its own thread (about 4 MiB
/// at level 3), which is only when there are more streams than the budget, whose workers keep
/// the cores busy: a tree and four 800 MiB dumps on 2 cores took 5.6 s and 55 MiB this way,
/// and 5.3 s and 73 MiB with one worker for every stream.
pub fn share(budget: u32, streams: usize, index: usize) -> u32 {
    let streams = u32::try_from(streams.max(1)).unwrap_or(u32::MAX);
    let index = u32::try_from(index).unwrap_or(u32::MAX);
    budget / streams + u32::from(index < budget % streams)
}

/// Chunks each of `streams` may queue for its upload, out of `depth` for the run: when the
/// link is the bottleneck every queue is full, and one stream's worth of buffer in total is
/// what keeps it busy. One at least (besides the chunk being filled and the one being sent):
/// with more streams than `depth`, the others' chunks keep the link busy. Over SSH a tree and
/// four dumps peaked at 97 MiB with two chunks each and at 90 with one, in the same time.
pub fn queue(depth: usize, streams: usize) -> usize {
    (depth / streams.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn auto_is_one_per_core_up_to_the_bound() {
        assert_eq!(budget(0, 2), 2);
        assert_eq!(budget(0, 64), AUTO_MAX);
        assert_eq!(budget(0, 0), 1);
        assert_eq!(budget(16, 2), 16, "an explicit count is the operator's");
    }

    #[test]
    fn one_stream_keeps_every_worker() {
        assert_eq!(share(2, 1, 0), 2);
        assert_eq!(share(4, 1, 0), 4);
        assert_eq!(share(1, 1, 0), 1);
    }

    #[test]
    fn streams_split_the_budget_sources_first() {
        // A tree and a dump on 4 cores: two workers each.
        assert_eq!((share(4, 2, 0), share(4, 2, 1)), (2, 2));
        // Five streams and a budget of 8: 2, 2, 2, 1, 1.
        let got: Vec<u32> = (0..5).map(|i| share(8, 5, i)).collect();
        assert_eq!(got, vec![2, 2, 2, 1, 1]);
        // More streams than workers: the last ones on their own thread.
        let got: Vec<u32> = (0..5).map(|i| share(2, 5, i)).collect();
        assert_eq!(got, vec![1, 1, 0, 0, 0]);
    }

    #[test]
    fn queues_shrink_with_the_number_of_streams() {
        assert_eq!(queue(8, 1), 8);
        assert_eq!(queue(8, 3), 2);
        assert_eq!(queue(8, 6), 1);
        assert_eq!(queue(8, 20), 1, "never none");
    }

    proptest! {
        #[test]
        fn the_budget_is_shared_out_whole_and_evenly(budget in 0u32..300, streams in 1usize..40) {
            let shares: Vec<u32> = (0..streams).map(|i| share(budget, streams, i)).collect();
            prop_assert_eq!(shares.iter().sum::<u32>(), budget);
            // In stream order, never more than one apart.
            prop_assert!(shares.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= 1));
            prop_assert_eq!(shares.iter().all(|&s| s > 0), budget as usize >= streams);
        }
    }
}
