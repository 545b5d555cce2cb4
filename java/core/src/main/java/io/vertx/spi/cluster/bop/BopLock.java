package io.vertx.spi.cluster.bop;

import io.vertx.core.shareddata.Lock;

/**
 * A cluster lock granted by {@link BopClusterManager}. Besides {@link #release()}, it exposes the
 * grant's fencing token: a number that grows with every grant of every lock in the cluster, so a
 * resource guarded by the lock can refuse writes from a holder whose token is older than one it
 * has already seen (a holder that paused past its lease, for example).
 */
public interface BopLock extends Lock {

  /** The fencing token of this grant. */
  long fencingToken();

  /**
   * Whether this node still holds the lock as far as it knows: false once released, and once
   * this node was removed from the cluster (declared dead after a pause or a partition longer
   * than the failure timeout) and admitted again since the grant, for the cluster released the
   * lock when it removed the node. Such a lock's {@link #release()} sends nothing and logs that
   * the lock was lost.
   */
  boolean isHeld();
}
