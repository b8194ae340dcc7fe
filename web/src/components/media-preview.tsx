/** Inline players for the audio, video and image URLs found in a node's output. */
import { findMedia } from '../lib/media';

export function MediaPreview({ value }: { value: unknown }) {
  const media = findMedia(value);
  if (!media.length) return null;
  return (
    <div className="media" data-testid="media-previews">
      {media.map((m) => (
        <figure key={m.url} className={`media-item media-${m.kind}`} data-testid={`media-${m.kind}`}>
          {m.kind === 'image' && <img src={m.url} alt={m.path} loading="lazy" />}
          {m.kind === 'audio' && <audio src={m.url} controls preload="metadata" />}
          {m.kind === 'video' && <video src={m.url} controls preload="metadata" />}
          <figcaption className="mono small">
            {m.path}{' '}
            <a href={m.url} target="_blank" rel="noreferrer">
              open ↗
            </a>
          </figcaption>
        </figure>
      ))}
    </div>
  );
}
