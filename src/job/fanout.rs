//! One stream, several destinations: every chunk the producer makes goes to each destination
//! that is still in the run, through a bounded channel of its own. The slowest destination
//! paces the others (each is at most `DEPTH` chunks ahead of it), so memory stays
//! bounded whatever the links do; a destination whose upload stopped (its receiver dropped) or
//! that failed in another stream (`Dropped`) leaves the run, and the others go on. When no
//! destination is left, the producer's receiver is dropped, which stops it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

/// Chunks (1 MiB) a destination may lag behind the fastest, split between a run's streams
/// (snapshot/workers.rs: a job with one stream has them all). Deep enough that the
/// destinations' uneven moments (a readback, a slow write) do not stall one another: on the
/// 20,000-file tree to two remotes, 2 chunks cost 1.67x a one-remote run and 8 cost 1.33x, at
/// the same peak RSS (shared/bench/baseline.sh, BACKUP_SECOND_REMOTE=1).
pub const DEPTH: usize = 8;

/// Which destinations have left the run, shared by all of its streams.
#[derive(Debug)]
pub struct Dropped(Vec<AtomicBool>);

impl Dropped {
    pub fn new(destinations: usize) -> Arc<Dropped> {
        Arc::new(Dropped(
            (0..destinations).map(|_| AtomicBool::new(false)).collect(),
        ))
    }

    pub fn drop_out(&self, which: usize) {
        if let Some(f) = self.0.get(which) {
            f.store(true, Ordering::Relaxed);
        }
    }

    pub fn is_out(&self, which: usize) -> bool {
        self.0.get(which).is_some_and(|f| f.load(Ordering::Relaxed))
    }
}

/// One receiver per destination (in order) fed from `source`, each `lag` chunks deep (the
/// stream's share of [`DEPTH`]). With one destination the producer's own receiver is handed
/// on: nothing is copied.
pub fn split(
    source: mpsc::Receiver<Vec<u8>>,
    dropped: &Arc<Dropped>,
    lag: usize,
) -> Vec<mpsc::Receiver<Vec<u8>>> {
    let n = dropped.0.len();
    if n == 1 {
        return vec![source];
    }
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel(lag)).unzip();
    tokio::spawn(feed(source, txs, dropped.clone()));
    rxs
}

async fn feed(
    mut source: mpsc::Receiver<Vec<u8>>,
    txs: Vec<mpsc::Sender<Vec<u8>>>,
    dropped: Arc<Dropped>,
) {
    let mut live: Vec<(usize, mpsc::Sender<Vec<u8>>)> = txs.into_iter().enumerate().collect();
    while let Some(chunk) = source.recv().await {
        live.retain(|(i, _)| !dropped.is_out(*i));
        let Some(((_, last), rest)) = live.split_last() else {
            break;
        };
        let mut gone = Vec::new();
        for (i, tx) in rest {
            if tx.send(chunk.clone()).await.is_err() {
                gone.push(*i);
            }
        }
        if last.send(chunk).await.is_err() {
            gone.push(live[live.len() - 1].0);
        }
        for i in gone {
            dropped.drop_out(i);
        }
    }
    // Dropping `live` ends every destination's stream; dropping `source` stops the producer.
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(mut rx: mpsc::Receiver<Vec<u8>>) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(c) = rx.recv().await {
            all.extend(c);
        }
        all
    }

    #[tokio::test]
    async fn every_destination_gets_every_chunk_in_order() {
        let (tx, rx) = mpsc::channel(2);
        let dropped = Dropped::new(3);
        let rxs = split(rx, &dropped, DEPTH);
        let producer = tokio::spawn(async move {
            for i in 0..100u8 {
                tx.send(vec![i; 10]).await.unwrap();
            }
        });
        let got = futures::future::join_all(rxs.into_iter().map(collect)).await;
        producer.await.unwrap();
        let want: Vec<u8> = (0..100u8).flat_map(|i| vec![i; 10]).collect();
        assert!(got.iter().all(|g| *g == want));
    }

    #[tokio::test]
    async fn a_destination_that_stops_reading_leaves_and_the_others_finish() {
        let (tx, rx) = mpsc::channel(2);
        let dropped = Dropped::new(2);
        let mut rxs = split(rx, &dropped, DEPTH);
        let good = rxs.remove(0);
        let mut bad = rxs.remove(0);
        let producer = tokio::spawn(async move {
            for i in 0..50u8 {
                tx.send(vec![i]).await.unwrap();
            }
        });
        assert_eq!(bad.recv().await, Some(vec![0]));
        drop(bad);
        assert_eq!(collect(good).await.len(), 50);
        producer.await.unwrap();
        assert!(dropped.is_out(1) && !dropped.is_out(0));
    }

    #[tokio::test]
    async fn the_producer_stops_when_every_destination_is_gone() {
        let (tx, rx) = mpsc::channel(1);
        let dropped = Dropped::new(2);
        drop(split(rx, &dropped, DEPTH));
        dropped.drop_out(0);
        dropped.drop_out(1);
        // The feeder sees both out at its first chunk and drops the source.
        let _ = tx.send(vec![1]).await;
        tokio::time::timeout(std::time::Duration::from_secs(5), tx.closed())
            .await
            .unwrap();
    }
}
