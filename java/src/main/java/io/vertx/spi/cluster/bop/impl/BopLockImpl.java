package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.internal.logging.Logger;
import io.vertx.core.internal.logging.LoggerFactory;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopLock;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A granted cluster lock. {@link #release()} is idempotent: only the first call releases, so a
 * double release never frees a later waiter's grant.
 */
public final class BopLockImpl implements BopLock {

  private static final Logger log = LoggerFactory.getLogger(BopLockImpl.class);

  private final BopClusterManager manager;
  private final String name;
  private final long fencingToken;
  private final AtomicBoolean released = new AtomicBoolean();

  public BopLockImpl(BopClusterManager manager, String name, long fencingToken) {
    this.manager = manager;
    this.name = name;
    this.fencingToken = fencingToken;
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
    manager.request(id -> BopMessages.lockRelease(id, name), BopMessages::bool).whenComplete((ok, failure) -> {
      if (failure != null) {
        log.warn("Releasing lock " + name + " failed", BopClusterManager.unwrap(failure));
      }
    });
  }
}
