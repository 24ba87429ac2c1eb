/**
 * Worker-thread entry of shard scoring (models/scorePool.ts): keeps the models it was sent (by version) and answers
 * each batch of COPY text with the batch's mart.scores COPY csv as UTF-8 bytes (transferred, not copied).
 * Loaded through spawnModuleWorker, like forestWorker.
 */
import { parentPort } from 'worker_threads';
import { loadHistForest, type HistForest } from './histForest';
import { ScoreInputError } from './scoreText';
import { scoreBatch, type ScoreWorkerReply, type ScoreWorkerRequest } from './scorePool';

/** Models kept per worker: the two products of a run, and a pinned or previous champion beside them. */
const KEPT_MODELS = 4;

const port = parentPort;
if (!port) throw new Error('scoreWorker must run in a worker thread');
const models = new Map<string, HistForest>();

port.on('message', (msg: ScoreWorkerRequest) => {
  if ('model' in msg) {
    models.set(msg.model.version, loadHistForest(msg.model.json));
    while (models.size > KEPT_MODELS) models.delete(models.keys().next().value!);
    return;
  }
  const { id, version, columns, text, context } = msg.job;
  let reply: ScoreWorkerReply;
  try {
    const forest = models.get(version);
    if (!forest) throw new Error(`score worker has no model ${version}`);
    const scored = scoreBatch(forest, { columns, text, context });
    const { csv } = scored;
    reply = { id, scored };
    // Transfer the bytes when they own their buffer (a small Buffer may sit in Node's shared pool).
    port.postMessage(reply, csv.byteOffset === 0 && csv.byteLength === csv.buffer.byteLength ? [csv.buffer as ArrayBuffer] : []);
    return;
  } catch (err) {
    reply = { id, error: (err as Error).message, invalidInput: err instanceof ScoreInputError };
  }
  port.postMessage(reply);
});
