package io.github.stopstreaming.fs

import java.net.URI
import java.nio.file.{Files, Path => JPath}
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicInteger

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
    val opens = new AtomicInteger()
    override def open(f: Path, bufferSize: Int): FSDataInputStream = {
      opens.incrementAndGet()
      if (f.getName.startsWith("hang")) gate.await()
      super.open(f, bufferSize)
    }
  }

  private def setUp(
      gate: CountDownLatch = new CountDownLatch(1),
      waitMs: Long = WaitMs
  ): (StopFileReader, JPath, HangingFileSystem) = {
    val fs = new HangingFileSystem(gate)
    fs.initialize(URI.create("file:///"), new Configuration())
    val dir = Files.createTempDirectory("stop-reader")
    dir.toFile.deleteOnExit()
    (new StopFileReader(fs, new NamedThreads, waitMs, DeadlineMs), dir, fs)
  }

  private def write(dir: JPath, name: String): Path = {
    Files.write(dir.resolve(name), """{"mode":"graceful"}""".getBytes("UTF-8"))
    dir.resolve(name).toFile.deleteOnExit()
    new Path(dir.resolve(name).toUri)
  }

  test("a read still hanging when its file is gone is given up, and the next file is read at once") {
    val gate = new CountDownLatch(1)
    val (reader, dir, _) = setUp(gate)
    val hang = write(dir, "hang.stop")
    val good = write(dir, "good.stop")
    assert(reader.read("hang.stop", hang).isEmpty, "the hanging read is under way")
    reader.endPoll()
    // The next poll: hang.stop is gone (or turned into a FIFO, as the swapping attack does).
    assert(reader.read("good.stop", good).isEmpty, "one read at a time: good.stop waits for this poll")
    reader.endPoll()
    assert(reader.stuckReads == 1, "the hanging read was given up when no poll asked for it any more")
    // Asked again within this poll until it returns: not queued behind the hung read, it returns in one wait or two.
    eventually(assert(reader.read("good.stop", good).exists(_.isRight), "good.stop was read on a fresh thread"))
    gate.countDown()
    eventually(assert(reader.stuckReads == 0, "the given-up thread came back once its read returned"))
    reader.close()
  }

  test("a read past its deadline no longer holds up other files, and its content is used once it comes") {
    val gate = new CountDownLatch(1)
    val (reader, dir, fs) = setUp(gate)
    val hang = write(dir, "hang.stop")
    val good = write(dir, "good.stop")
    assert(reader.read("hang.stop", hang, now = 0L).isEmpty)
    reader.endPoll()
    assert(reader.read("hang.stop", hang, now = DeadlineMs / 2).isEmpty, "still within its deadline")
    assert(reader.read("good.stop", good).isEmpty, "good.stop waits its turn")
    reader.endPoll()
    val e = intercept[java.io.IOException](reader.read("hang.stop", hang, now = DeadlineMs))
    assert(e.getMessage.contains("could not be read within 1 s"))
    eventually(assert(reader.read("good.stop", good).exists(_.isRight), "the other file is read meanwhile"))
    reader.endPoll()
    val waiting = intercept[java.io.IOException](reader.read("hang.stop", hang))
    assert(waiting.getMessage.contains("has been read for over 1 s"), "no second read of a file that hangs")
    reader.endPoll()
    gate.countDown()
    eventually(assert(reader.read("hang.stop", hang).exists(_.isRight), "the late read's content, once it came"))
    assert(fs.opens.get == 2, "hang.stop and good.stop were each opened once")
    eventually(assert(reader.stuckReads == 0))
    reader.close()
  }

  test("a FIFO is answered as not a regular file, and the reader stuck on it is released") {
    // A longer wait, so the reader is surely blocked in open() before its writer end is opened.
    val (reader, dir, _) = setUp(waitMs = 500)
    val fifo = dir.resolve("fifo.stop")
    assert(new ProcessBuilder("mkfifo", fifo.toString).start().waitFor() == 0)
    val path = new Path(fifo.toUri)
    assert(reader.read("fifo.stop", path) == Some(Left("is not a regular file (a FIFO or a device?)")))
    eventually(assert(reader.stuckReads == 0, "its writer end was opened, so the stuck open() returned"))
    val good = write(dir, "good.stop")
    eventually(assert(reader.read("good.stop", good).exists(_.isRight)))
    reader.close()
  }

  test(s"after ${StopFileReader.MaxStuck} stuck reads this directory's stop files wait, until one comes back") {
    val gate = new CountDownLatch(1)
    val (reader, dir, _) = setUp(gate)
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
