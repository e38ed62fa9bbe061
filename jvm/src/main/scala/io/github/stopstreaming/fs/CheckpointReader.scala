package io.github.stopstreaming.fs

import java.io.FileNotFoundException
import java.nio.charset.StandardCharsets.UTF_8

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.JsonNode
import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{ChecksumFileSystem, FileStatus, FileSystem, Path}

/** Reads a streaming checkpoint through the Hadoop FileSystem API and reports what a restart from it will run: the same
  * reading as the Python inspector's (python/src/stopstreaming/checkpoint.py), so the driver's `GET
  * /api/v1/queries/{id}/checkpoint` and `stopstreaming checkpoint` agree. Bounded: each file read is capped at
  * [[CheckpointReader.MaxEntryBytes]], each folder listing at [[CheckpointReader.MaxListing]] entries, and only the
  * last two offsets entries, the last commit and the small metadata files are opened.
  *
  * Throws [[CheckpointException]] for a folder that is not a checkpoint or one Spark would refuse, and for a failing
  * file system (with `io` set).
  */
final class CheckpointReader(hadoopConf: Configuration) {
  import CheckpointReader._

  def read(location: String): CheckpointReport = {
    val root = new Path(location)
    val fs =
      try
        root.getFileSystem(hadoopConf) match {
          // Spark reads its logs without checking Hadoop's .crc files; so does this (an entry fixed by hand with a stale
          // checksum must read as Spark reads it).
          case c: ChecksumFileSystem => c.getRawFileSystem
          case other => other
        }
      catch { case NonFatal(e) => throw io(s"cannot open the file system of $location", e) }
    new Reading(fs, root, location).report()
  }
}

object CheckpointReader {

  /** The largest log entry read; Spark's are a few kilobytes. A larger one is refused, not cut. */
  val MaxEntryBytes: Int = 4 * 1024 * 1024

  /** The most entries read from one folder listing (Spark keeps the last 100 batches by default). */
  val MaxListing = 100000

  // A batch file's name is a batch id as Spark writes it: digits, no sign, no leading zero.
  private val Batch = "0|[1-9][0-9]{0,17}".r
  private val KeyedSource = "(?s)([A-Za-z0-9_.-]+):(.*)".r
  private val VersionLine = "v[0-9]{1,3}".r
  // Event times a watermark can hold and still be a date (years 1 to 9999).
  private val MinMs = -62135596800000L
  private val MaxMs = 253402300799999L

  private def isBatch(name: String): Boolean = Batch.pattern.matcher(name).matches()

  private def refused(m: String) = new CheckpointException(m)

  private def io(m: String, e: Throwable) = {
    val why = Option(e.getMessage).map(SafeText.name).getOrElse(e.getClass.getSimpleName)
    new CheckpointException(s"$m: ${e.getClass.getSimpleName}: $why", io = true)
  }

  private final case class Offsets(
      format: String,
      watermarkMs: Long,
      timestampMs: Long,
      conf: Seq[(String, String)],
      sources: Seq[SourceOffset]
  )

  private final case class Commit(format: String, nextWatermarkMs: Long)

  /** One reading of one checkpoint. */
  private final class Reading(fs: FileSystem, root: Path, path: String) {
    private val warnings = Seq.newBuilder[String]

    /** The entries of a folder by name; None when it does not exist. */
    private def list(sub: String): Option[Map[String, FileStatus]] = {
      val dir = if (sub.isEmpty) root else new Path(root, sub)
      try {
        val it = fs.listStatusIterator(dir)
        val out = Map.newBuilder[String, FileStatus]
        var n = 0
        while (it.hasNext) {
          n += 1
          if (n > MaxListing)
            throw refused(s"$path/$sub lists more than $MaxListing entries; not read (Spark keeps 100 by default)")
          val st = it.next()
          out += st.getPath.getName -> st
        }
        Some(out.result())
      } catch {
        case _: FileNotFoundException => None
        case e: CheckpointException => throw e
        case NonFatal(e) => throw io(s"cannot list $path/$sub", e)
      }
    }

    private def read(name: String): String = {
      val p = new Path(root, name)
      val bytes =
        try {
          val in = fs.open(p)
          try {
            val buf = new java.io.ByteArrayOutputStream()
            val chunk = new Array[Byte](8192)
            var n = in.read(chunk)
            while (n >= 0 && buf.size <= MaxEntryBytes) {
              buf.write(chunk, 0, n)
              n = in.read(chunk)
            }
            buf.toByteArray
          } finally in.close()
        } catch {
          case _: FileNotFoundException => throw refused(s"$path/$name is gone or is not a regular file")
          case NonFatal(e) => throw io(s"cannot read $path/$name", e)
        }
      if (bytes.length > MaxEntryBytes)
        throw refused(s"$path/$name is over ${MaxEntryBytes / (1024 * 1024)} MiB: not a Spark log entry")
      new String(bytes, UTF_8)
    }

    /** A JSON object ({} for an empty line); anything else is not what Spark writes. */
    private def jsonObject(text: String, where: String): JsonNode =
      if (text.trim.isEmpty) Json.tree("{}").toOption.get
      else
        Json.tree(text) match {
          case Right(n) if n.isObject => n
          case Right(_) => throw refused(s"$where is not what Spark writes (not a JSON object)")
          case Left(_) => throw refused(s"$where is not what Spark writes (not JSON)")
        }

    private def ms(n: JsonNode, field: String, where: String): Long = Option(n.get(field)).filterNot(_.isNull) match {
      case None => 0L
      case Some(v) if v.isNumber && !v.asDouble.isNaN && !v.asDouble.isInfinite =>
        if (v.asDouble < MinMs || v.asDouble > MaxMs)
          throw refused(s"$where $field: ${v.asText} milliseconds is outside the years 1 to 9999")
        v.asDouble.toLong
      case Some(v) => throw refused(s"$where $field: ${SafeText.name(v.toString)} is not a time in milliseconds")
    }

    private def version(line: String, log: String, where: String): String =
      if (VersionLine.pattern.matcher(line.trim).matches()) line.trim
      else throw refused(s"$where does not start with the version line of an entry of $log/ (v1, v2, ...)")

    private def batches(log: String, top: Map[String, FileStatus]): Seq[Long] =
      top.get(log) match {
        case None => Nil
        case Some(st) if st.isFile => throw refused(s"$path/$log is a file where Spark keeps a folder")
        case Some(_) =>
          list(log).getOrElse(Map.empty).collect { case (n, st) if isBatch(n) && st.isFile => n.toLong }.toSeq.sorted
      }

    private def offsets(batch: Long): Offsets = {
      val where = s"$path/offsets/$batch"
      val lines = read(s"offsets/$batch").split("\n", -1)
      val fmt = version(lines(0), "offsets", where)
      if (lines.length < 2) throw refused(s"$where is truncated")
      val meta = jsonObject(lines(1), s"$where (its metadata line)")
      val conf = Option(meta.get("conf")).filterNot(_.isNull) match {
        case None => Nil
        case Some(c) if c.isObject =>
          c.properties()
            .asScala
            .toSeq
            .map(e => e.getKey -> (if (e.getValue.isTextual) e.getValue.asText else e.getValue.toString))
        case Some(_) => throw refused(s"$where: its conf is not a JSON object")
      }
      val sources = lines.drop(2).zipWithIndex.collect {
        case (raw, i) if raw.trim.nonEmpty =>
          val (id, line) = raw match {
            case KeyedSource(k, rest) if fmt != "v1" => (Some(k), rest)
            case _ => (None, raw)
          }
          if (line.trim == "-") SourceOffset(i, id, None, json = false)
          else SourceOffset(i, id, Some(line), json = Json.tree(line).isRight)
      }
      Offsets(fmt, ms(meta, "batchWatermarkMs", where), ms(meta, "batchTimestampMs", where), conf, sources.toSeq)
    }

    private def commit(batch: Long): Commit = {
      val where = s"$path/commits/$batch"
      val lines = read(s"commits/$batch").split("\n", -1)
      val fmt = version(lines(0), "commits", where)
      val meta = jsonObject(if (lines.length > 1) lines(1) else "", where)
      Commit(fmt, ms(meta, "nextBatchWatermarkMs", where))
    }

    private def stateOperators(top: Map[String, FileStatus], conf: Seq[(String, String)]): Seq[StateOperatorInfo] =
      top.get("state") match {
        case None => Nil
        case Some(st) if st.isFile => throw refused(s"$path/state is a file where Spark keeps a folder")
        case Some(_) =>
          val provider = conf.collectFirst { case ("spark.sql.streaming.stateStore.providerClass", v) =>
            v.split('.').last
          }
          val ops = list("state").getOrElse(Map.empty).collect { case (n, st) if isBatch(n) && st.isDirectory => n }
          ops.toSeq.sortBy(_.toLong).map { op =>
            val names = list(s"state/$op").getOrElse(Map.empty)
            val (name, stores) =
              if (names.contains("_metadata")) operatorMetadata(s"state/$op/_metadata") else (None, Nil)
            StateOperatorInfo(op.toLong, names.keys.count(isBatch), provider, name, stores)
          }
      }

    /** Spark 4's `state/<op>/_metadata/metadata`: best effort, a name is a help, never a reason to fail the report. */
    private def operatorMetadata(folder: String): (Option[String], Seq[String]) =
      try {
        if (!list(folder).exists(_.get("metadata").exists(_.isFile))) (None, Nil)
        else {
          val lines = read(s"$folder/metadata").split("\n", -1)
          val meta = jsonObject(if (lines.length > 1) lines(1) else "", s"$path/$folder/metadata")
          val op = Option(meta.get("operatorInfo")).filter(_.isObject)
          val name = op.flatMap(o => Option(o.get("operatorName"))).filter(_.isTextual).map(_.asText)
          val stores = Option(meta.get("stateStoreInfo"))
            .filter(_.isArray)
            .toSeq
            .flatMap(_.elements().asScala)
            .flatMap(s => Option(s.get("storeName")).filter(_.isTextual).map(_.asText))
          (name, stores)
        }
      } catch { case _: CheckpointException => (None, Nil) }

    /** `_stopstreaming/last-run.json`: None when there is none; a malformed one is a warning, never an error. */
    private def lastRun(top: Map[String, FileStatus]): Option[LastRunRecord] =
      if (!top.get(LastRunRecord.Folder).exists(_.isDirectory)) None
      else {
        val file = s"${LastRunRecord.Folder}/${LastRunRecord.FileName}"
        try {
          if (!list(LastRunRecord.Folder).exists(_.get(LastRunRecord.FileName).exists(_.isFile))) None
          else
            Json.readLastRun(read(file)) match {
              case Right(r) => Some(r)
              case Left(why) => warnings += s"$path/$file is not a record of ours ($why); ignored"; None
            }
        } catch {
          case e: CheckpointException => warnings += s"$path/$file could not be read (${e.getMessage})"; None
        }
      }

    def report(): CheckpointReport = {
      val top = list("").getOrElse(throw refused(s"$path does not exist"))
      if (!top.contains("offsets") && !top.contains("metadata"))
        throw refused(
          s"$path is not a streaming checkpoint: it has neither a metadata file nor an offsets/ folder"
        )
      val queryId = if (top.get("metadata").exists(_.isFile)) {
        val meta = jsonObject(read("metadata").trim.split("\n")(0), s"$path/metadata")
        Option(meta.get("id")).filter(_.isTextual).map(_.asText)
      } else None
      val planned = batches("offsets", top)
      val committed = batches("commits", top)
      val lastPlanned = planned.lastOption
      val lastCommitted = committed.lastOption
      val record = lastRun(top)

      def done(r: CheckpointReport): CheckpointReport = {
        val judged = record.map(LastRunReport.judge(_, r.clean, r.lastCommittedBatch, r.queryId))
        judged.flatMap(_._2).foreach(warnings += _)
        r.copy(warnings = warnings.result(), lastRun = judged.map(_._1))
      }

      lastPlanned match {
        case None =>
          done(
            CheckpointReport(
              path,
              queryId,
              None,
              lastCommitted,
              0,
              "new",
              clean = true,
              None,
              0L,
              0L,
              None,
              None,
              None,
              Nil,
              Nil,
              stateOperators(top, Nil),
              Nil,
              None
            )
          )
        case Some(last) =>
          if (lastCommitted.exists(_ > last))
            throw refused(s"$path: commits/${lastCommitted.get} is ahead of offsets/$last; the checkpoint was edited")
          val previous = last - 1
          if (last > 0 && !planned.contains(previous))
            throw refused(
              s"$path: offsets/$previous is missing beside offsets/$last; Spark refuses to restart from this " +
                s"checkpoint (batch $previous doesn't exist)"
            )
          val entry = offsets(last)
          val c = lastCommitted.map(commit)
          val clean = lastCommitted.contains(last)
          val (watermark, reruns) =
            if (clean) (math.max(entry.watermarkMs, c.map(_.nextWatermarkMs).getOrElse(0L)), None)
            else {
              val from = if (last > 0) Some(offsets(previous).sources) else None
              val why = s"offsets/$last is planned and has no commit: a restart runs it again"
              lastCommitted.filter(_ < previous).foreach { lc =>
                warnings += s"batches ${lc + 1} to $previous were planned and never committed; a restart re-runs " +
                  s"only batch $last, so a sink that did not write them never will"
              }
              (entry.watermarkMs, Some(RestartRerun(last, from, entry.sources, why)))
            }
          done(
            CheckpointReport(
              path,
              queryId,
              lastPlanned,
              lastCommitted,
              planned.size,
              if (clean) "clean" else "rerun",
              clean,
              reruns,
              if (clean) last + 1 else last,
              watermark,
              Some(entry.timestampMs),
              Some(entry.format),
              c.map(_.format),
              entry.sources,
              entry.conf,
              stateOperators(top, entry.conf),
              Nil,
              None
            )
          )
      }
    }
  }

  /** The id of the last committed batch under `root` (None when there is none), for the last-run record. */
  def lastCommitted(fs: FileSystem, root: Path): Option[Long] = {
    val dir = new Path(root, "commits")
    try {
      val it = fs.listStatusIterator(dir)
      var best: Option[Long] = None
      var n = 0
      while (it.hasNext && n < MaxListing) {
        n += 1
        val st = it.next()
        val name = st.getPath.getName
        if (st.isFile && isBatch(name) && best.forall(_ < name.toLong)) best = Some(name.toLong)
      }
      best
    } catch { case _: FileNotFoundException => None }
  }
}
