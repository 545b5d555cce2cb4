package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.Promise;

/**
 * What the manager needs from Vert.x's internal API, which differs between Vert.x lines, so each
 * line's {@code BopClusterManager} provides it: promises bound to the caller's Vert.x context
 * (their futures call back on it, even when a native callback thread completes them), and the
 * instance's metrics.
 */
public interface BopContexts {

  /** A promise whose future completes on the calling thread's context (a new one off Vert.x threads). */
  <T> Promise<T> promise();

  /** The instance's metrics implementation ({@code VertxMetrics}); null when it has none or the line does not say. */
  default Object metrics() {
    return null;
  }
}
