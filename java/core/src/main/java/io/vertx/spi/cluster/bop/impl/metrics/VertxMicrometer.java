package io.vertx.spi.cluster.bop.impl.metrics;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.micrometer.impl.MicrometerMetrics;
import io.vertx.spi.cluster.bop.BopClusterMetrics;

/**
 * Binds a manager's metrics to the registry of Vert.x's Micrometer metrics
 * (vertx-micrometer-metrics), when the application runs Vert.x with them. Loaded only when both
 * Micrometer and vertx-micrometer-metrics are on the class path.
 */
public final class VertxMicrometer {

  private VertxMicrometer() {
  }

  /**
   * Binds {@code metrics} to the registry of {@code vertxMetrics}, the Vert.x instance's metrics
   * implementation; false when that is not Vert.x's Micrometer metrics.
   */
  public static boolean bind(Object vertxMetrics, BopClusterMetrics metrics) {
    if (!(vertxMetrics instanceof MicrometerMetrics)) {
      return false;
    }
    MeterRegistry registry = ((MicrometerMetrics) vertxMetrics).registry();
    if (registry == null) {
      return false;
    }
    metrics.bindTo(registry);
    return true;
  }
}
