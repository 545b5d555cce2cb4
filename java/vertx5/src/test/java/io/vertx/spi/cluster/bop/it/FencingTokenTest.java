package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Vertx;
import io.vertx.core.shareddata.Lock;
import io.vertx.spi.cluster.bop.BopLock;
import org.junit.After;
import org.junit.Test;

import static org.junit.Assert.assertTrue;

/**
 * The fencing token of a cluster lock grows from grant to grant across nodes: node A takes the
 * lock and releases it, node B then gets a strictly larger token, and A's next grant is larger
 * still. The locks the cluster manager hands out are {@link BopLock}s.
 */
public class FencingTokenTest {

  private static final String LOCK = "fenced";

  private final Clusters clusters = new Clusters();

  @After
  public void tearDown() {
    clusters.closeAll();
  }

  @Test
  public void each_grant_carries_a_larger_token_than_the_one_before() throws Exception {
    String cluster = Clusters.uniqueName("fencing");
    Vertx a = clusters.start(Clusters.options(cluster));
    Vertx b = clusters.start(Clusters.options(cluster));

    BopLock first = bopLock(Clusters.await(a.sharedData().getLock(LOCK)));
    long tokenA = first.fencingToken();
    first.release();

    BopLock second = bopLock(Clusters.await(b.sharedData().getLock(LOCK)));
    long tokenB = second.fencingToken();
    assertTrue("B's token " + tokenB + " must be larger than A's " + tokenA, tokenB > tokenA);
    second.release();

    BopLock third = bopLock(Clusters.await(a.sharedData().getLock(LOCK)));
    assertTrue("A's second token " + third.fencingToken() + " must be larger than B's " + tokenB,
      third.fencingToken() > tokenB);
    third.release();
  }

  private static BopLock bopLock(Lock lock) {
    assertTrue("lock type: " + lock.getClass().getName(), lock instanceof BopLock);
    return (BopLock) lock;
  }
}
