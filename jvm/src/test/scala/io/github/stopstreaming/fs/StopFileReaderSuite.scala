package io.github.stopstreaming.fs

import java.net.URI
import java.nio.file.{Files, Path => JPath}
import java.util.concurrent.CountDownLatch

import io.github.stopstreaming.core.NamedThreads
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FSDataInputStream, Path, RawLocalFileSystem}
import org.scalatest.concurrent.Eventually
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

/** The stop-file reader on a real disk: a read that hangs, on a FIFO or on a store, never holds up the next file. */
class StopFileReaderSuite extends AnyFunSuite with Eventually {
  implicit override val patienceConfig: PatienceConfig = PatienceConfig(Span(10, Seconds), Span(0.02, Seconds))

  private val WaitMs = 50L
  private val DeadlineMs = 1000L

  /** The local disk, where opening a file whose name starts with "hang" waits until `gate` opens (a store that hangs).
    */
  private final class HangingFileSystem(gate: CountDownLatch) extends RawLocalFileSystem {
    override def open(f: Path, bufferSize: Int): FSDataInputStream = {
      if (f.getName.startsWith("hang")) gate.await()
      super.open(f, bufferSize)
    }
  }

  private def setUp(gate: CountDownLatch = new CountDownLatch(1)): (StopFileReader, JPath) = {
    val fs = new HangingFileSystem(gate)
    fs.initialize(URI.create("file:///"), new Configuration())
    (new StopFileReader(fs, new NamedThreads, WaitMs, DeadlineMs), Files.createTempDirectory("stop-reader"))
  }

  private def write(dir: JPath, name: String): Path = {
    Files.write(dir.resolve(name), """{"mode":"graceful"}""".getBytes("UTF-8"))
    new Path(dir.resolve(name).toUri)
  }

  test("a read still hanging when its file is gone is given up, and the next file is read at once") {
    val gate = new CountDownLatch(1)
    val (reader, dir) = setUp(gate)
    val hang = write(dir, "hang.stop")
    val good = write(dir, "good.stop")
    assert(reader.read("hang.stop", hang).isEmpty, "the hanging read is under way")
    reader.endPoll()
    // The next poll: hang.stop is gone (or turned into a FIFO, as the swapping attack does).
    assert(reader.read("good.stop", good).isEmpty, "one read at a time: good.stop waits for this poll")
    reader.endPoll()
    assert(reader.stuckReads == 1, "the hanging read was given up when no poll asked for it any more")
    val content = reader.read("good.stop", good)
    assert(content.exists(_.isRight), s"good.stop was read on a fresh thread, not queued behind the hung one: $content")
    gate.countDown()
    eventually(assert(reader.stuckReads == 0, "the given-up thread came back once its read returned"))
    reader.close()
  }

  test("a read past its deadline is given up without refusing the file, which is read again later") {
    val gate = new CountDownLatch(1)
    val (reader, dir) = setUp(gate)
    val hang = write(dir, "hang.stop")
    assert(reader.read("hang.stop", hang, now = 0L).isEmpty)
    reader.endPoll()
    assert(reader.read("hang.stop", hang, now = DeadlineMs / 2).isEmpty, "still within its deadline")
    reader.endPoll()
    val e = intercept[java.io.IOException](reader.read("hang.stop", hang, now = DeadlineMs))
    assert(e.getMessage.contains("could not be read within 1 s"))
    reader.endPoll()
    gate.countDown()
    eventually(assert(reader.read("hang.stop", hang).exists(_.isRight), "read again once the store answers"))
    reader.close()
  }

  test("a FIFO is answered as not a regular file, and the reader stuck on it is released") {
    val (reader, dir) = setUp()
    val fifo = dir.resolve("fifo.stop")
    assert(new ProcessBuilder("mkfifo", fifo.toString).start().waitFor() == 0)
    val path = new Path(fifo.toUri)
    assert(reader.read("fifo.stop", path) == Some(Left("is not a regular file (a FIFO or a device?)")))
    eventually(assert(reader.stuckReads == 0, "its writer end was opened, so the stuck open() returned"))
    val good = write(dir, "good.stop")
    assert(reader.read("good.stop", good).exists(_.isRight))
    reader.close()
  }

  test(s"after ${StopFileReader.MaxStuck} stuck reads this directory's stop files wait, until one comes back") {
    val gate = new CountDownLatch(1)
    val (reader, dir) = setUp(gate)
    for (i <- 1 to StopFileReader.MaxStuck) {
      val hang = write(dir, s"hang$i.stop")
      assert(reader.read(s"hang$i.stop", hang).isEmpty)
      reader.endPoll() // asked for once, then gone
      reader.endPoll()
    }
    assert(reader.stuckReads == StopFileReader.MaxStuck)
    val good = write(dir, "good.stop")
    val e = intercept[java.io.IOException](reader.read("good.stop", good))
    assert(e.getMessage.contains(s"${StopFileReader.MaxStuck} reads are stuck"))
    gate.countDown()
    eventually(assert(reader.read("good.stop", good).exists(_.isRight)))
    eventually(assert(reader.stuckReads == 0, "every given-up thread came back"))
    reader.close()
  }
}
