package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.internal.logging.Logger;
import io.vertx.core.internal.logging.LoggerFactory;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopLock;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A granted cluster lock. {@link #release()} is idempotent: only the first call releases, so a
 * double release never frees a later waiter's grant. A lock granted before this node was removed
 * from the cluster (declared dead while unreachable) and admitted again was released by the
 * cluster then and may be held by another node now: its release sends nothing (which could free
 * a later grant to this node) and logs that the lock was lost; its fencing token is older than
 * any granted since.
 */
public final class BopLockImpl implements BopLock {

  private static final Logger log = LoggerFactory.getLogger(BopLockImpl.class);

  private final BopClusterManager manager;
  private final String name;
  private final long fencingToken;
  private final int incarnation;
  private final AtomicBoolean released = new AtomicBoolean();

  public BopLockImpl(BopClusterManager manager, String name, long fencingToken, int incarnation) {
    this.manager = manager;
    this.name = name;
    this.fencingToken = fencingToken;
    this.incarnation = incarnation;
  }

  /** False once this node was removed from the cluster and admitted again since the grant: the lock was lost then. */
  public boolean isHeld() {
    return !released.get() && manager.isActive() && manager.incarnation() == incarnation;
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
    if (!manager.isActive()) {
      // The node left: the cluster released its locks with it.
      return;
    }
    if (manager.incarnation() != incarnation) {
      log.warn("Lock " + name + " (fencing token " + fencingToken + ") was lost: this node was removed from the cluster "
        + "while holding it and has rejoined since; another node may have held it meanwhile");
      return;
    }
    manager.request(id -> BopMessages.lockRelease(id, name), BopMessages::bool).whenComplete((ok, failure) -> {
      if (failure != null) {
        log.warn("Releasing lock " + name + " failed", BopClusterManager.unwrap(failure));
      }
    });
  }
}
