package io.vertx.spi.cluster.bop.demo;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;

/** The demo ({@link ClusterDemo}) on Vert.x 5: {@code Vertx.builder().withClusterManager(...).buildClustered()}. */
public final class Vertx5Demo implements ClusterDemo.Line {

  @Override
  public Future<Vertx> start(ClusterManager manager) {
    return Vertx.builder().withClusterManager(manager).buildClustered();
  }

  @Override
  public Future<Void> registered(MessageConsumer<?> consumer) {
    return consumer.completion();
  }

  public static void main(String[] args) {
    ClusterDemo.main(BopClusterManager::new, new Vertx5Demo());
  }
}
