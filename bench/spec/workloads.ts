/** Prompts for bench/spec: answers that copy much of the prompt, and plain chat. */

const CODE = `function mergeIntervals(intervals) {
  if (intervals.length === 0) return [];
  intervals.sort((a, b) => a[0] - b[0]);
  const merged = [intervals[0]];
  for (let i = 1; i < intervals.length; i++) {
    const last = merged[merged.length - 1];
    const cur = intervals[i];
    if (cur[0] <= last[1]) {
      last[1] = Math.max(last[1], cur[1]);
    } else {
      merged.push(cur);
    }
  }
  return merged;
}`;

const PASSAGE =
  "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named after the engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889. Locally nicknamed La dame de fer, it was constructed as the centrepiece of the 1889 World's Fair, and to crown the centennial anniversary of the French Revolution.";

const JSON_DOC = `[{"name": "Alice", "age": 31, "city": "Paris"}, {"name": "Bob", "age": 27, "city": "Lyon"}, {"name": "Chloe", "age": 45, "city": "Nice"}, {"name": "David", "age": 38, "city": "Lille"}]`;

export const REPETITIVE: readonly string[] = [
  `Rename the variable "merged" to "result" in this code and return the whole code:\n\n${CODE}`,
  `Repeat this passage word for word, then say how tall the tower is:\n\n${PASSAGE}`,
  `Rewrite this JSON so every "city" key becomes "town"; output only the JSON:\n\n${JSON_DOC}`,
  `Add a comment line above each line of this code, and keep the code unchanged:\n\n${CODE}`,
];

export const CHAT: readonly string[] = [
  "What is the capital of France?",
  "Give me three tips for sleeping better.",
  "Write a short poem about the sea.",
  "Explain what a prime number is to a child.",
];
