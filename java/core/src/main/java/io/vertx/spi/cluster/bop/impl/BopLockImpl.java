package io.vertx.spi.cluster.bop.impl;

import io.vertx.spi.cluster.bop.BopLock;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;
import io.vertx.spi.cluster.bop.impl.wire.BopResponses;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A granted cluster lock. {@link #release()} is idempotent: only the first call releases, so a
 * double release never frees a later waiter's grant. A lock granted before this node was removed
 * from the cluster (declared dead while unreachable) and admitted again was released by the
 * cluster then and may be held by another node now: its release sends nothing (which could free
 * a later grant to this node) and logs that the lock was lost; its fencing token is older than
 * any granted since.
 */
final class BopLockImpl implements BopLock {

  private static final BopLog log = BopLog.get(BopLockImpl.class);

  private final BopGateway gateway;
  private final String name;
  private final long fencingToken;
  private final int incarnation;
  private final AtomicBoolean released = new AtomicBoolean();

  BopLockImpl(BopGateway gateway, String name, long fencingToken, int incarnation) {
    this.gateway = gateway;
    this.name = name;
    this.fencingToken = fencingToken;
    this.incarnation = incarnation;
  }

  /** False once this node was removed from the cluster and admitted again since the grant: the lock was lost then. */
  public boolean isHeld() {
    return !released.get() && gateway.isActive() && gateway.incarnation() == incarnation;
  }

  @Override
  public long fencingToken() {
    return fencingToken;
  }

  @Override
  public void release() {
    if (!released.compareAndSet(false, true)) {
      return;
    }
    if (!gateway.isActive()) {
      // The node left: the cluster released its locks with it.
      return;
    }
    if (gateway.incarnation() != incarnation) {
      log.warn("Lock " + name + " (fencing token " + fencingToken + ") was lost: this node was removed from the cluster "
        + "while holding it and has rejoined since; another node may have held it meanwhile");
      return;
    }
    gateway.request(id -> BopMessages.lockRelease(id, name), BopResponses::bool).whenComplete((ok, failure) -> {
      if (failure != null) {
        // The native node finishes it: it cancels the hold once this release can no longer apply.
        log.warn("Releasing lock " + name + " failed; the node releases it once the cluster is reachable",
          BopGateway.unwrap(failure));
      }
    });
  }
}
