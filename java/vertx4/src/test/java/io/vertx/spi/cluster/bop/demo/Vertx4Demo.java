package io.vertx.spi.cluster.bop.demo;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;

/** The demo ({@link ClusterDemo}) on Vert.x 4.5: {@code Vertx.clusteredVertx(new VertxOptions().setClusterManager(...))}. */
public final class Vertx4Demo implements ClusterDemo.Line {

  @Override
  public Future<Vertx> start(ClusterManager manager) {
    return Vertx.clusteredVertx(new VertxOptions().setClusterManager(manager));
  }

  @Override
  public Future<Void> registered(MessageConsumer<?> consumer) {
    Promise<Void> promise = Promise.promise();
    consumer.completionHandler(promise);
    return promise.future();
  }

  public static void main(String[] args) {
    ClusterDemo.main(BopClusterManager::new, new Vertx4Demo());
  }
}
