package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.Future;
import io.vertx.core.shareddata.Counter;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;
import io.vertx.spi.cluster.bop.impl.wire.BopResponses;

import java.util.function.IntFunction;

/** A cluster counter: every operation is one linearizable command of the replicated state. */
final class BopCounter implements Counter {

  private final BopGateway gateway;
  private final String name;

  BopCounter(BopGateway gateway, String name) {
    this.gateway = gateway;
    this.name = name;
  }

  private Future<Long> value(IntFunction<byte[]> request) {
    return gateway.toFuture(gateway.request(request, BopResponses::i64));
  }

  @Override
  public Future<Long> get() {
    return value(id -> BopMessages.counterGet(id, name));
  }

  @Override
  public Future<Long> incrementAndGet() {
    return addAndGet(1);
  }

  @Override
  public Future<Long> getAndIncrement() {
    return getAndAdd(1);
  }

  @Override
  public Future<Long> decrementAndGet() {
    return addAndGet(-1);
  }

  @Override
  public Future<Long> addAndGet(long value) {
    return value(id -> BopMessages.counterAddAndGet(id, name, value));
  }

  @Override
  public Future<Long> getAndAdd(long value) {
    return value(id -> BopMessages.counterGetAndAdd(id, name, value));
  }

  @Override
  public Future<Boolean> compareAndSet(long expected, long value) {
    return gateway.toFuture(gateway.request(id -> BopMessages.counterCompareAndSet(id, name, expected, value), BopResponses::bool));
  }
}
