package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Vertx;
import io.vertx.core.shareddata.AsyncMap;
import org.junit.After;
import org.junit.Test;

import java.io.Serializable;
import java.util.Collections;
import java.util.Objects;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

/**
 * A user {@link Serializable} class crosses the cluster in an AsyncMap only where the serialization
 * allow-list admits it: a node without it refuses to write such a value and to read one another
 * node wrote, with an error naming the class; nodes that allow it through
 * {@code BopClusterOptions.setSerializableAllowList} round-trip it between them.
 */
public class SerializableAllowListTest {

  private static final String MAP = "allow-list";

  private final Clusters clusters = new Clusters();

  @After
  public void tearDown() {
    clusters.closeAll();
  }

  @Test
  public void a_class_off_the_allow_list_is_refused_by_name_and_allowed_once_listed() throws Exception {
    String cluster = Clusters.uniqueName("allow-list");
    String className = Point.class.getName();
    Vertx strict = clusters.start(Clusters.options(cluster));
    Vertx writer = clusters.start(Clusters.options(cluster).setSerializableAllowList(Collections.singletonList(className)));
    Vertx reader = clusters.start(Clusters.options(cluster).setSerializableAllowList(Collections.singletonList(className)));
    AsyncMap<String, Object> strictMap = Clusters.await(strict.sharedData().getAsyncMap(MAP));
    AsyncMap<String, Object> writerMap = Clusters.await(writer.sharedData().getAsyncMap(MAP));
    AsyncMap<String, Object> readerMap = Clusters.await(reader.sharedData().getAsyncMap(MAP));

    Throwable refusedWrite = Clusters.failure(strictMap.put("p", new Point(1, 2)));
    assertNamesClass(refusedWrite, className);
    assertEquals("nothing was written", 0, (int) Clusters.await(readerMap.size()));

    Clusters.await(writerMap.put("p", new Point(3, 4)));
    assertEquals(new Point(3, 4), Clusters.await(readerMap.get("p")));
    assertEquals(new Point(3, 4), Clusters.await(writerMap.get("p")));

    Throwable refusedRead = Clusters.failure(strictMap.get("p"));
    assertNamesClass(refusedRead, className);
    // The refusal concerns that value only: the strict node still reads and writes the others.
    Clusters.await(strictMap.put("s", "plain"));
    assertEquals("plain", Clusters.await(readerMap.get("s")));
  }

  private static void assertNamesClass(Throwable failure, String className) {
    assertTrue("expected an IllegalArgumentException, got " + failure, failure instanceof IllegalArgumentException);
    assertTrue("\"" + failure.getMessage() + "\" should name " + className, failure.getMessage().contains(className));
  }

  /** A user value class, in a package the default allow-list does not cover. */
  public static final class Point implements Serializable {

    private static final long serialVersionUID = 1L;

    private final int x;
    private final int y;

    public Point(int x, int y) {
      this.x = x;
      this.y = y;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Point && ((Point) o).x == x && ((Point) o).y == y;
    }

    @Override
    public int hashCode() {
      return Objects.hash(x, y);
    }

    @Override
    public String toString() {
      return "Point(" + x + ", " + y + ")";
    }
  }
}
