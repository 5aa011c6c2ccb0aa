# The service as one bundled file on Node's slim image. Build: docker build -t armada-jobservice .
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /src/dist/jobservice.cjs /app/jobservice.cjs
USER node
EXPOSE 60003
ENTRYPOINT ["node", "/app/jobservice.cjs"]
CMD ["serve"]
