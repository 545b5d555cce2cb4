package io.vertx.spi.cluster.bop.impl;

import org.junit.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

/**
 * No future waits forever: a request the native node never answers is failed by the safety net
 * once its deadline (request timeout, what it may wait, grace) passed, and a node that stopped
 * fails what waits, and every later call, with the reason it stopped.
 */
public class BopNodeDeadlinesTest {

  @Test
  public void an_unanswered_request_fails_after_its_deadline_and_not_before() throws Exception {
    BopNode node = new BopNode(20, 10);
    CompletableFuture<?> quick = node.expect(1, 0);
    CompletableFuture<?> lock = node.expect(2, 60_000);
    node.giveUpLateRequests();
    assertFalse("failed before its deadline", quick.isDone());
    TimeUnit.MILLISECONDS.sleep(50);
    node.giveUpLateRequests();
    ExecutionException late = assertThrows(ExecutionException.class, () -> quick.get(1, TimeUnit.SECONDS));
    assertTrue(late.getCause() instanceof BopClusterException);
    assertEquals(BopClusterException.TIMEOUT, ((BopClusterException) late.getCause()).code());
    assertTrue(late.getCause().getMessage(), late.getCause().getMessage().contains("did not answer request 1 within 30 ms"));
    assertFalse("a lock wait may last its own timeout", lock.isDone());
    assertEquals(1, node.pendingRequests());
  }

  @Test
  public void a_stopped_node_fails_what_waits_and_what_comes_with_its_reason() {
    BopNode node = new BopNode(10_000, 5_000);
    CompletableFuture<?> waiting = node.expect(1, 0);
    node.closed("The cluster node stopped: the node's event loop stopped after a panic: boom");
    ExecutionException failure = assertThrows(ExecutionException.class, () -> waiting.get(1, TimeUnit.SECONDS));
    assertTrue(failure.getCause().getMessage().contains("panic: boom"));
    CompletableFuture<Object> later = node.call(2, new byte[0], frame -> frame);
    ExecutionException refused = assertThrows(ExecutionException.class, () -> later.get(1, TimeUnit.SECONDS));
    assertTrue(refused.getCause() instanceof IllegalStateException);
    assertTrue(refused.getCause().getMessage().contains("panic: boom"));
    assertEquals(0, node.pendingRequests());
  }
}
